"""Third-party actions the generated workflows use, pinned by full commit SHA (a tag can move,
a commit cannot); the comment names the release for reviewers."""

from __future__ import annotations

CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0"
UPLOAD_ARTIFACT = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2"  # as action.yml

DOWNLOAD_ARTIFACT = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0"  # builds' artifacts

ACTIONS = {
    "checkout": CHECKOUT,
    "setup_python": SETUP_PYTHON,
    "upload_artifact": UPLOAD_ARTIFACT,
    "download_artifact": DOWNLOAD_ARTIFACT,
}
