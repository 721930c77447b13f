# A helper module registered only as disabled needs no main block: no problems expected.
register_cuda_ci(est_time=1, suite="nightly-1-gpu", nightly=True, disabled="helper module, no tests")
