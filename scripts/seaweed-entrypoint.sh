#!/bin/sh
# docker-compose's SeaweedFS: writes the S3 identities file from AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY (so the store accepts exactly the keys in .env and refuses unsigned
# requests), then runs `weed mini` in the foreground. POSIX sh: the image is Alpine.
set -eu
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID is not set: run make run once, or copy .env.example to .env}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY is not set}"
mkdir -p /data/weed/master
umask 077
cat > /data/s3.json <<JSON
{"identities": [{"name": "media", "credentials": [{"accessKey": "${AWS_ACCESS_KEY_ID}", "secretKey": "${AWS_SECRET_ACCESS_KEY}"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
exec weed mini \
  -dir=/data/weed \
  -master.dir=/data/weed/master \
  -ip=seaweedfs -ip.bind=0.0.0.0 \
  -s3.config=/data/s3.json \
  -s3.port=8333 \
  -s3.port.iceberg=0 -s3.port.lance=0 \
  -bucket="${S3_BUCKET:-media}" \
  -admin.ui=false -webdav=false -master.telemetry=false
