# expect: unknown_marker.py:3: warning: unknown-marker: register_tpu_ci() is not a CI marker and is ignored
# expect:   help: known markers: register_amd_ci, register_cpu_ci, register_cuda_ci, register_mlx_ci, register_mps_ci, register_musa_ci, register_npu_ci, register_ppu_ci, register_xpu_ci
register_tpu_ci(est_time=60, suite="tpu")
register_cuda_ci(est_time=60, suite="nightly-1-gpu", nightly=True)

if __name__ == "__main__":
    main()
