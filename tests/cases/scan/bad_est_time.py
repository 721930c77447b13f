# expect: bad_est_time.py:4: bad-est-time: register_cuda_ci(): est_time must be a number, got 'fast'
# expect: bad_est_time.py:5: bad-est-time: register_amd_ci(): est_time must be a number, got True
# expect: bad_est_time.py:6: bad-est-time: register_npu_ci(): est_time must be a finite number of seconds >= 0, got inf
register_cuda_ci(est_time="fast", suite="nightly-1-gpu")
register_amd_ci(est_time=True, suite="stage-b-test-1-gpu-small-amd")
register_npu_ci(est_time=1e999, suite="stage-b-test-1-npu-a2")

if __name__ == "__main__":
    main()
