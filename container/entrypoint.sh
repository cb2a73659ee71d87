#!/bin/sh
# The container's commands: dashboard (the default: the dashboard, the API and the loop), api (no dashboard),
# serve (a serving replica), mlflow (the tracking server for a compose stack), or any other command as given.
set -eu

# Every API in here listens on all interfaces, which the API refuses without a token: use IA_API_TOKEN, or the one kept in
# the volume, made at the first start.
if [ -z "${IA_API_TOKEN:-}" ] && [ "${1:-dashboard}" != "mlflow" ]; then
    token_file="${IA_API_TOKEN_FILE:-${IA_DATA_DIR:-/data}/api-token}"
    if [ ! -s "$token_file" ]; then
        umask 077
        python3 -c "import secrets; print(secrets.token_urlsafe(32))" > "$token_file"
        echo "ia-continu: made an API token in $token_file (read it with: cat $token_file)" >&2
    fi
    IA_API_TOKEN="$(cat "$token_file")"
    export IA_API_TOKEN
fi

case "${1:-dashboard}" in
    dashboard) exec python3 -m ui.launch --server.address "$UI_HOST" --server.port "$UI_PORT" ;;
    api) exec python3 -m core.api ;;
    serve) exec python3 -m core.serve ;;
    mlflow)
        mkdir -p "${MLFLOW_STORE:-/data/mlflow}"
        exec mlflow server --host 0.0.0.0 --port "${MLFLOW_PORT:-5000}" --workers "${MLFLOW_WORKERS:-2}" \
            --backend-store-uri "sqlite:///${MLFLOW_STORE:-/data/mlflow}/mlflow.db" \
            --artifacts-destination "${MLFLOW_STORE:-/data/mlflow}/artifacts" \
            --allowed-hosts "${MLFLOW_ALLOWED_HOSTS:-mlflow,mlflow:*,localhost,localhost:*,127.0.0.1,127.0.0.1:*}" ;;
    *) exec "$@" ;;
esac
