'use strict';
// OpenTelemetry as an application sets it up for the bench's instrumented clients: the SDK's tracer
// provider with a batch span processor (its exporter drops spans, so the rows measure instrumentation,
// not a collector), a meter provider, and async-hooks context.
const { context, trace, metrics } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { MeterProvider } = require('@opentelemetry/sdk-metrics');

const dropping = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };

function startOpenTelemetry() {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] });
  const meterProvider = new MeterProvider();
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return { tracerProvider, meterProvider };
}

module.exports = { startOpenTelemetry };
