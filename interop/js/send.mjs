#!/usr/bin/env node
// Send one trace, two log records and three metrics to an OTLP/HTTP endpoint
// with the official OpenTelemetry JS SDK and its OTLP/HTTP JSON exporters
// (Content-Type: application/json).
//
// Usage: node send.mjs ENDPOINT RUN_ID
//   ENDPOINT  base URL of the receiver's OTLP/HTTP listener, e.g.
//             http://127.0.0.1:4318 (/v1/traces, /v1/logs, /v1/metrics are appended)
//   RUN_ID    unique id of this run; lands in the resource attribute run.id,
//             the request_id attributes and the log bodies
//
// Prints one JSON line on stdout:
//   {"trace_id": "<32 hex>", "service": "interop-js", "spans": 3, "logs": 2}
// and exits 1 if any export reported a failure (the summary is still printed).
// Used by interop/run.py; keep the data in step with interop/python/send.py.

import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';

const SCOPE_NAME = 'interop.js';
const SCOPE_VERSION = '1.0.0';
const SERVICE = 'interop-js';

const args = process.argv.slice(2);
if (args.length !== 2) {
  console.error('usage: node send.mjs ENDPOINT RUN_ID');
  process.exit(2);
}
const endpoint = args[0].replace(/\/+$/, '');
const runId = args[1];
const requestId = `req-${runId}`;

// Record the result of every export call (ExportResultCode.SUCCESS is 0).
const results = { traces: [], logs: [], metrics: [] };
function watch(signal, exporter) {
  const original = exporter.export.bind(exporter);
  exporter.export = (items, done) =>
    original(items, (result) => {
      results[signal].push(result.code === 0 ? 'SUCCESS' : `FAILURE(${result.error ?? result.code})`);
      done(result);
    });
  return exporter;
}

const resource = defaultResource().merge(
  resourceFromAttributes({ 'service.name': SERVICE, 'service.version': '1.2.3', 'run.id': runId }),
);

// --- providers ----------------------------------------------------------------
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [
    new BatchSpanProcessor(watch('traces', new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))),
  ],
});
const loggerProvider = new LoggerProvider({
  resource,
  processors: [
    new BatchLogRecordProcessor({
      exporter: watch('logs', new OTLPLogExporter({ url: `${endpoint}/v1/logs` })),
    }),
  ],
});
const meterProvider = new MeterProvider({
  resource,
  readers: [
    new PeriodicExportingMetricReader({
      exporter: watch('metrics', new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` })),
      exportIntervalMillis: 600_000, // the one export happens on shutdown
    }),
  ],
});

// --- trace + the log line inside it (contexts are passed explicitly, so no
// global context manager is needed) ----------------------------------------------
const tracer = tracerProvider.getTracer(SCOPE_NAME, SCOPE_VERSION);
const logger = loggerProvider.getLogger('interop.checkout', SCOPE_VERSION);

const server = tracer.startSpan('GET /checkout', {
  kind: SpanKind.SERVER,
  attributes: {
    'http.request.method': 'GET',
    'http.route': '/checkout',
    'http.response.status_code': 502,
    request_id: requestId,
    'url.path': '/checkout',
    'url.scheme': 'https',
    'server.address': 'shop.interop.test',
    'server.port': 8443,
    'user_agent.original': 'interop-js/1.0',
    'interop.str': 'hello',
    'interop.int': 42,
    'interop.negative_int': -7,
    'interop.float': 3.25,
    'interop.bool': true,
    'interop.false': false,
    'interop.str_list': ['alpha', 'beta', 'gamma'],
    'interop.int_list': [1, 2, 3],
    'interop.float_list': [0.5, 1.5],
    'interop.bool_list': [true, false],
  },
});
const serverCtx = trace.setSpan(context.active(), server);
const traceId = server.spanContext().traceId;
server.addEvent('cart.loaded', { 'cart.items': 3, 'cart.currency': 'EUR' });

const client = tracer.startSpan(
  'POST /charge',
  {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': 'POST',
      'url.full': 'https://payments.interop.test/charge',
      'server.address': 'payments.interop.test',
      'http.response.status_code': 402,
    },
  },
  serverCtx,
);
const clientCtx = trace.setSpan(serverCtx, client);

const internal = tracer.startSpan(
  'validate card',
  {
    kind: SpanKind.INTERNAL,
    attributes: { 'card.brand': 'visa', 'card.checks': 2 },
    links: [{ context: server.spanContext(), attributes: { 'link.reason': 'validation-of' } }],
  },
  clientCtx,
);
internal.end();

client.recordException(new Error('card declined'));
client.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined by issuer' });
client.end();

server.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream payment failure' });
logger.emit({
  context: serverCtx,
  severityNumber: SeverityNumber.WARN,
  severityText: 'WARN',
  body: `payment failed for ${runId}`,
  attributes: { request_id: requestId },
});
server.end();

logger.emit({
  severityNumber: SeverityNumber.INFO,
  severityText: 'INFO',
  body: `checkout request finished for ${runId}`,
  attributes: { request_id: requestId },
});

// --- metrics ---------------------------------------------------------------------
const meter = meterProvider.getMeter(SCOPE_NAME, SCOPE_VERSION);
meter
  .createCounter('interop.requests', { unit: '{request}', description: 'Requests handled' })
  .add(3, { route: '/checkout' });
const duration = meter.createHistogram('interop.duration', {
  unit: 'ms',
  description: 'Request duration',
});
for (const value of [5, 50, 500]) duration.record(value, { route: '/checkout' });
meter
  .createGauge('interop.queue_depth', { unit: '{item}', description: 'Items waiting' })
  .record(7, { queue: 'payments' });

// --- flush everything before exit ---------------------------------------------------
const problems = [];
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    problems.push(`${name}: ${err?.message ?? err}`);
  }
}
await step('tracerProvider.forceFlush', () => tracerProvider.forceFlush());
await step('tracerProvider.shutdown', () => tracerProvider.shutdown());
await step('loggerProvider.forceFlush', () => loggerProvider.forceFlush());
await step('loggerProvider.shutdown', () => loggerProvider.shutdown());
await step('meterProvider.shutdown', () => meterProvider.shutdown()); // collects and exports once

console.log(JSON.stringify({ trace_id: traceId, service: SERVICE, spans: 3, logs: 2 }));
for (const [signal, list] of Object.entries(results)) {
  if (list.length === 0) problems.push(`${signal}: nothing was exported`);
  else if (list.some((r) => r !== 'SUCCESS')) problems.push(`${signal}: export results ${list.join(', ')}`);
}
for (const p of problems) console.error(`send.mjs: ${p}`);
process.exitCode = problems.length ? 1 : 0;
