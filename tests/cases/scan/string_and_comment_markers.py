# expect: string_and_comment_markers.py:1: no-marker: no register_<backend>_ci(...) call at top level
# expect:   help: register the file, e.g. register_cuda_ci(est_time=60, suite=...), or exclude it under tests.exclude in cigen.yml
DOC = """
register_cuda_ci(est_time=60, suite="in-a-string")
"""
# register_cuda_ci(est_time=60, suite="in-a-comment")
calls = [
register_cuda_ci(est_time=60, suite="inside-brackets"),
]

if __name__ == "__main__":
    print(DOC)
