# expect: starred_args.py:5: starred-arg: register_cuda_ci(): *args are not supported
# expect: starred_args.py:6: starred-arg: register_cuda_ci(): **kwargs are not supported
ARGS = (60, "nightly-1-gpu")
KWARGS = {"est_time": 60, "suite": "nightly-1-gpu"}
register_cuda_ci(*ARGS)
register_cuda_ci(**KWARGS)

if __name__ == "__main__":
    main()
