# Shared by the scripts that install system packages for flowsim's tests (source it).
# apt_install WHAT PACKAGE...: install Debian packages with apt-get as root or through sudo;
# WHAT says who needs them, for the message when that is impossible.
apt_install() {
    local what="$1"
    shift
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$what needs: $* (no apt-get here: install them with your package manager)" >&2
        exit 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "$what needs: $*; run as root or install sudo: apt-get install $*" >&2
            exit 1
        fi
    fi
    echo "installing $* ..." >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
