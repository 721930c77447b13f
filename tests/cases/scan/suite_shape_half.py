# expect: suite_shape_half.py:4: suite-shape: register_cuda_ci(): pass suite= or stage= + runner_config=, not both; got stage=True, runner_config=False, suite=False
# expect:   help: register_cuda_ci(est_time=60, stage="base-b", runner_config="1-gpu-large")
# Half of the new-style pair: no suite can be derived.
register_cuda_ci(est_time=60, stage="base-b")

if __name__ == "__main__":
    main()
