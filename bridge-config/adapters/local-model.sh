#!/bin/sh
# A task for a local model: sends the prompt ($1) to an Ollama server (or a llama.cpp server's
# OpenAI-style endpoint) on this host and prints the answer, so the runner stores it as the result.
#   LOCAL_MODEL_URL    default http://127.0.0.1:11434 (Ollama); for llama.cpp use http://127.0.0.1:8080
#   LOCAL_MODEL_API    ollama (default) or openai (llama.cpp's /v1/chat/completions)
#   LOCAL_MODEL        the model name (default llama3.1)
# Exits 75 (the runner releases the task for a minute, no failure counted) when the server is busy
# or not up yet, 1 when it answers with an error.
set -u
url="${LOCAL_MODEL_URL:-http://127.0.0.1:11434}"
model="${LOCAL_MODEL:-llama3.1}"
prompt="${1:?usage: local-model.sh PROMPT}"
body=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$prompt")
if [ "${LOCAL_MODEL_API:-ollama}" = "openai" ]; then
    path=/v1/chat/completions
    request="{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":$body}]}"
    extract='import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])'
else
    path=/api/generate
    request="{\"model\":\"$model\",\"prompt\":$body,\"stream\":false}"
    extract='import json,sys; print(json.load(sys.stdin)["response"])'
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
code=$(curl -sS -o "$out" -w '%{http_code}' -H 'Content-Type: application/json' -d "$request" "$url$path") || {
    echo "local-model: $url is not answering (curl exit $?); try later" >&2
    exit 75
}
case "$code" in
    200) python3 -c "$extract" < "$out" ;;
    429|503) echo "local-model: server busy ($code); try later" >&2; exit 75 ;;
    *) echo "local-model: HTTP $code: $(head -c 500 "$out")" >&2; exit 1 ;;
esac
