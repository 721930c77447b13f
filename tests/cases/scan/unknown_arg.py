# expect: unknown_arg.py:3: unknown-arg: register_cuda_ci(): unknown argument 'colour'
# expect:   help: known arguments: est_time, suite, nightly, disabled, stage, runner_config
register_cuda_ci(est_time=60, suite="nightly-1-gpu", colour="red")

if __name__ == "__main__":
    main()
