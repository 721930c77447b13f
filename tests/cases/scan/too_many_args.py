# expect: too_many_args.py:3: too-many-args: register_cpu_ci() takes at most 4 positional arguments (est_time, suite, nightly, disabled), got 5
from sglang.test.ci.ci_register import register_cpu_ci
register_cpu_ci(5, "base-a-test-cpu", False, None, "extra")

if __name__ == "__main__":
    main()
