# expect: syntax_error.py:2: syntax-error: invalid Python: '(' was never closed
register_cuda_ci(est_time=60, suite="nightly-1-gpu"

if __name__ == "__main__":
    main()
