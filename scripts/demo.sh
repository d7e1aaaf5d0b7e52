#!/usr/bin/env bash
# `make demo`: the whole story on the local stack, as far as aepred has built it.
#   1. the local stack comes up (Kafka, PostgreSQL, Redis, MinIO, MLflow, Prometheus, Alertmanager)
#   2. a simulated trial streams into Kafka (enrollment into PostgreSQL)
#   3. the ingester validates it into the bronze lake (invalid records to the DLQs)
#   4. Spark builds silver and point-in-time features + labels
#   5. PyTorch trains the model, exports ONNX, applies the gates and logs everything to MLflow
#   6. the service starts (HTTPS): patient actors replay the trial from Kafka and score it, and the
#      live monitor labels those scores from adverse-event reports and checks drift and decay; a
#      prediction is made over the API and lands in the hash-chained audit trail
#   7. the closed loop on a concept-drift trial: the model decays, the decay rule fires, a retraining
#      runs, the candidate is canaried and promoted; a rollback drill's candidate (trained on inverted
#      labels: worse by construction) is canaried and rolled back; production is rolled back under
#      scoring load with no failed request
#   8. the same on a site-drift trial: the per-site drift rule fires
# DEMO_PATIENTS / DEMO_DAYS / DEMO_SEED size the trial.
set -euo pipefail
cd "$(dirname "$0")/.."
AEPRED="node bin/aepred.js"
PY=.venv/bin/python
PATIENTS=${DEMO_PATIENTS:-80}
DAYS=${DEMO_DAYS:-10}
SEED=${DEMO_SEED:-7}
START=${DEMO_START:-2025-01-06}
RUN=.local/demo
LAKE=$PWD/.local/lake
mkdir -p "$RUN"
step() { printf '\n\033[1;36m== %s\033[0m\n' "$*"; }
t0=$(date +%s)

step "1/8 local stack"
$AEPRED stack up
$AEPRED db migrate

step "2/8 simulate a trial: $PATIENTS patients x $DAYS days (seed $SEED) into Kafka"
$AEPRED simulate --patients "$PATIENTS" --days "$DAYS" --seed "$SEED" --start "$START" --scenario baseline --to kafka

step "3/8 ingest: Kafka -> validation -> bronze lake ($LAKE), exactly once"
$AEPRED ingest --lake "$LAKE" --log-level warn >"$RUN/ingest.log" 2>&1 &
ingest_pid=$!
trap 'kill $ingest_pid 2>/dev/null || true' EXIT
npx tsx scripts/demo/wait-ingested.ts --timeout 900
kill -TERM $ingest_pid && wait $ingest_pid || true
trap - EXIT
find "$LAKE/bronze" -name '*.parquet' | wc -l | xargs printf 'bronze files: %s\n'

export MLFLOW_TRACKING_URI=http://127.0.0.1:55000
END=$(date -u -d "$START + $DAYS days" +%Y-%m-%d)
export AEPRED_ENROLLMENT_JDBC_URL="jdbc:postgresql://127.0.0.1:55432/aepred?user=aepred&password=aepred"
step "4/8 Spark: bronze -> silver -> point-in-time features and labels (every 6 h of trial time)"
$PY -m pipelines silver --since "$START" --until "$END" --lake "$LAKE"
$PY -m pipelines features --since "$START" --until "$END" --lake "$LAKE" --cadence-hours 6

step "5/8 train, export ONNX, gate, log to MLflow"
$PY -m ml train --feature-store "$LAKE/features" --start "$START" --end "$END" --out "$RUN/model" \
  --run-name "demo-$SEED" --register || echo "(training finished with gate failures; see MLflow for the reasons)"
# the drift reference the service monitors live data against (trial-wide and per site)
$PY -m ml.drift_reference --model-dir "$RUN/model/model" --feature-store "$LAKE/features" \
  --start "$START" --end "$END" --lake "$LAKE" || echo "(no drift reference: the service will monitor performance only)"

step "6/8 serve: actors score every patient, /predict over HTTPS, audit trail"
if [ -f .local/run/serve.pid ] && kill -0 "$(cat .local/run/serve.pid)" 2>/dev/null; then
  kill -TERM "$(cat .local/run/serve.pid)" && sleep 2
fi
setsid $AEPRED serve --model "$RUN/model/model/model.onnx" --lake "$LAKE" --log-level warn \
  >.local/logs/serve.log 2>&1 < /dev/null &
echo $! >.local/run/serve.pid
for _ in $(seq 1 90); do
  curl -skf https://127.0.0.1:58080/health/live >/dev/null && break
  sleep 1
done
KEY=$($AEPRED apikey create --name "demo-$(date +%s)" --role admin 2>/dev/null | head -1)
echo "$KEY" >"$RUN/api-key"
chmod 600 "$RUN/api-key"
# Alertmanager calls the service's webhook with an operator key it reads from this file
# (ops/local/stack.yaml aepred.webhook_key_file).
[ -s .local/secrets/alertmanager-api-key ] ||
  $AEPRED apikey create --name alertmanager --role operator --out .local/secrets/alertmanager-api-key
sleep 10 # the actors catch up with the trial from Kafka
PATIENT=$(head -1 <(PGPASSWORD=aepred psql -h 127.0.0.1 -p 55432 -U aepred -d aepred -tAc \
  "select patient_id from enrollment where trial_id like 'AEPSIM%' order by patient_id limit 1"))
AS_OF=$(date -u -d "$END - 1 hour" +%Y-%m-%dT%H:%M:%SZ)
echo "POST /predict {patient_id: $PATIENT, timestamp: $AS_OF}"
curl -sk -X POST https://127.0.0.1:58080/predict -H "authorization: Bearer $KEY" \
  -H 'content-type: application/json' -d "{\"patient_id\":\"$PATIENT\",\"timestamp\":\"$AS_OF\"}" \
  | $PY -m json.tool || echo "(no answer; see .local/logs/serve.log)"
$AEPRED audit verify || true
echo "live monitoring of the served model (GET /metrics; Prometheus scrapes it, Grafana shows it):"
curl -sk https://127.0.0.1:58080/metrics -H "authorization: Bearer $KEY" |
  grep -E '^aepred_(model_auroc|model_labelled_predictions|model_positive_labels|features_drifted|segment_drifted_features|decay_last_check)' ||
  echo "(no monitoring gauges yet: the first check comes after 6 h of trial time)"

step "7/8 closed loop (concept drift): decay -> retrain -> canary -> promote; drill candidate -> rollback"
npx tsx scripts/demo/closed-loop.ts --lake .local/demo/loop-lake --scenario concept-drift --simulate

step "8/8 closed loop (site drift): one site's devices read off -> per-site drift -> retrain -> canary -> promote; drill -> rollback"
npx tsx scripts/demo/closed-loop.ts --lake .local/demo/loop-lake-site --scenario site-drift --simulate

step "where to look ($(( $(date +%s) - t0 )) s)"
$AEPRED stack status
cat <<MSG
  coordinator console:         https://127.0.0.1:58080/console  (API key in $RUN/api-key; self-signed cert)
  API docs (OpenAPI):          https://127.0.0.1:58080/openapi.json
  MLflow (runs, registry):     http://127.0.0.1:55000   experiment clinical-adverse-events
  Prometheus:                  http://127.0.0.1:59090
  Alertmanager:                http://127.0.0.1:59094
  bronze/silver/features lake: $LAKE
  model files:                 $RUN/model
  closed-loop run:             .local/demo/closed-loop/ (reports), MLflow registered models
  logs:                        .local/logs/ (stack), $RUN/ingest.log
  stop the service:            kill \$(cat .local/run/serve.pid)
  stop everything:             kill \$(cat .local/run/serve.pid); node bin/aepred.js stack down
MSG
