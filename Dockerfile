# One image for every SweetDream service; the SERVICE environment variable picks which one runs.
#   docker build -t sweetdream . && docker run -e SERVICE=catalog -e PORT=3001 -p 3001:3001 sweetdream
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app

# The CDK and Lambda-only packages in requirements.txt are not needed to serve requests.
COPY requirements.txt ./
RUN grep -vE '^(aws-cdk-lib|constructs|cdk-nag|cdklabs-ecs-codedeploy|aws-lambda-powertools|pg8000|scramp|asn1crypto)==' \
        requirements.txt > requirements-services.txt \
    && pip install --no-cache-dir -r requirements-services.txt \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin sweetdream \
    && mkdir /app/.data \
    && chown sweetdream /app/.data

# AWS's RDS certificate authorities: the services verify the database's certificate (verify-full).
ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem

COPY services/ services/

USER 10001

EXPOSE 8000
# Liveness only (/health/live): a new task cannot fix a database outage, so none is started for one.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/health/live' % os.environ['PORT'], timeout=4)"]

# Setup (migrate, ...) first, then gunicorn with gthread workers (services/gunicorn_conf.py) as PID 1.
CMD ["python", "-m", "services.container_start"]
