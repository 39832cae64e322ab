#!/usr/bin/env bash
# Builds local stand-ins for the public images the examples use, for machines that cannot
# reach a container registry. On a machine that can, skip this: boss pulls the real images.
#
# The stand-in for `busybox:1.36` is a FROM-scratch image holding Debian's statically linked
# busybox, which offers the same applets the examples use (sh, httpd, wget). An image that
# already exists under that name is left alone.
set -euo pipefail

image="busybox:1.36"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image is already present"
  exit 0
fi
if [ ! -x /bin/busybox ]; then
  echo "installing busybox-static (needs root and Debian's package archive)"
  apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp /bin/busybox "$context/busybox"
cat > "$context/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
DOCKERFILE
docker build --quiet --tag "$image" "$context" >/dev/null
echo "built a local stand-in for $image"
