# Debian's Chromium for the viewer's browser tests (sourced by .ci/run, not run).
#
# Playwright drives it through `executable_path`; `playwright install` (its own browser
# download) does not work on these machines and is never needed. Locally, as root:
#     source .ci/services/chromium.sh        # exports CHROMIUM
#     .venv/bin/python -m pytest -q tests/viewer
# Nothing is started, so there is nothing to stop.

if ! command -v chromium >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        chromium >/dev/null
fi
CHROMIUM=$(command -v chromium)
export CHROMIUM
