# expect: duplicate_arg.py:2: duplicate-arg: register_cuda_ci(): argument 'est_time' given twice
register_cuda_ci(60, suite="nightly-1-gpu", est_time=90)

if __name__ == "__main__":
    main()
