# expect: non_constant_arg.py:6: non-constant-arg: register_cuda_ci(): est_time must be a literal constant, got `EST * 2`
# expect:   help: markers are read without importing the file, so values must be written out
from sglang.test.ci.ci_register import register_cuda_ci

EST = 60
register_cuda_ci(est_time=EST * 2, suite="nightly-1-gpu", nightly=True)

if __name__ == "__main__":
    main()
