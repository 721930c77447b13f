# expect: bad_types.py:6: bad-suite: register_cuda_ci(): suite must be a string, got None
# expect: bad_types.py:7: bad-stage: register_cuda_ci(): stage must be a string, got 2
# expect: bad_types.py:8: bad-runner-config: register_cuda_ci(): runner_config must be a string, got b'1-gpu-large'
# expect: bad_types.py:9: bad-nightly: register_cuda_ci(): nightly must be True or False, got 'yes'
# expect: bad_types.py:10: bad-disabled: register_cuda_ci(): disabled must be a reason string, got True
register_cuda_ci(est_time=60, suite=None)
register_cuda_ci(est_time=60, stage=2, runner_config="1-gpu-large")
register_cuda_ci(est_time=60, stage="base-b", runner_config=b"1-gpu-large")
register_cuda_ci(est_time=60, suite="nightly-1-gpu", nightly="yes")
register_cuda_ci(est_time=60, suite="nightly-1-gpu", disabled=True)

if __name__ == "__main__":
    main()
