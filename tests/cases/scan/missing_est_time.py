# expect: missing_est_time.py:3: missing-est-time: register_cuda_ci(): est_time is required
# expect:   help: register_cuda_ci(est_time=60, suite=...)  # seconds
register_cuda_ci(suite="nightly-1-gpu", nightly=True)

if __name__ == "__main__":
    main()
