# expect: suite_shape_both.py:3: suite-shape: register_cuda_ci(): pass suite= or stage= + runner_config=, not both; got stage=True, runner_config=True, suite=True
# expect:   help: register_cuda_ci(est_time=60, stage="base-b", runner_config="1-gpu-large")
register_cuda_ci(est_time=60, suite="base-b-test-1-gpu-large", stage="base-b", runner_config="1-gpu-large")

if __name__ == "__main__":
    main()
