import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import { buildAdmin } from './admin/admin.ts';
import { createHistory } from './admin/history.ts';
import { createMetrics, observeLearningLoop } from './admin/metrics.ts';
import { registerStatusPage } from './admin/status-page.ts';
import { configureSharp } from './codec/index.ts';
import type { ProxyConfig } from './config/proxy.ts';
import { CalibrationStore } from './feedback/calibration-store.ts';
import { createDecisionLog, type DecisionLog } from './feedback/decision-log.ts';
import { LearningLoop } from './feedback/loop.ts';
import { createReferenceSampler } from './feedback/reference-sampler.ts';
import { referenceKindOverrides, safeQualityFor } from './feedback/reward-spec.ts';
import { createLogger } from './logger.ts';
import { FixedQualityPolicy } from './policy/fixed.ts';
import { parseQualityLadder, QualityLadderPolicy } from './policy/ladder.ts';
import { parseModelMap } from './policy/model-map.ts';
import { PolicyRouter, type PolicyRouterOptions } from './policy/router.ts';
import { createProviders, isLoopback, providerDescriptors } from './providers/registry.ts';
import type { CredentialSource, ProviderDescriptor } from './providers/types.ts';
import { ProxyError } from './providers/types.ts';
import { referencePath } from './request/paths.ts';
import { shrinkImage } from './request/shrink.ts';
import { runPath } from './request/steps.ts';
import { buildServer, createPathContext, serverOptionsFrom } from './server.ts';

/** Where relative model paths point: the package root, so `npm start` finds models/ from any working directory. */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));

export interface RuntimeOverrides {
  logger?: FastifyBaseLogger;
  credentials?: CredentialSource;
  /** The upstream APIs (default: the registry's); a test adds a provider of its own here. */
  descriptors?: readonly ProviderDescriptor[];
  /** How often the status page's history samples the counters (default 10 s). */
  historyIntervalMs?: number;
}

/**
 * Compose the whole proxy from one config: providers, policy router, learning loop (decision log, references,
 * controllers), the proxy app and the admin app. Nothing listens yet; `listen()` and `shutdown()` are returned.
 */
export async function createRuntime(config: ProxyConfig, overrides: RuntimeOverrides = {}) {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  // libvips threads per image: 1, since parallelism comes from concurrent requests (--image-concurrency).
  configureSharp({ concurrency: 1 });
  const descriptors = overrides.descriptors ?? providerDescriptors;
  const providers = createProviders(
    config,
    {
      maxBodyBytes: config.maxBodyBytes,
      imageLimits: config.imageLimits,
      listenerIsPrivate: config.trustLoopback && isLoopback(config.host),
      ...(overrides.credentials ? { awsCredentials: overrides.credentials } : {}),
    },
    descriptors,
  );
  const metrics = createMetrics();

  // Everything the request path shares; the learning loop runs its reference uploads through the same context.
  let loop: LearningLoop | undefined;
  const router = await PolicyRouter.create({
    models: resolveModels(config.policyModels),
    fallback: new FixedQualityPolicy(config.quality),
    ...kindFallbacks(config, descriptors),
    exploration:
      config.policyExploration === 'softmax'
        ? { kind: 'softmax', temperature: config.policyTemperature }
        : { kind: 'epsilon-greedy', epsilon: config.policyEpsilon },
    watch: config.policyWatch,
    onEvent: (event) => {
      if (event.type === 'loaded') {
        logger.info({ key: event.key, modelId: event.modelId, previous: event.previousModelId }, 'policy model loaded');
        loop?.onModelLoaded((context) => router.policyFor(context).id);
      } else {
        // The file does not match what this code provides: keep serving with the current model, say why.
        logger.error(
          {
            key: event.key,
            path: event.path,
            code: event.error.code,
            error: event.error.message,
            kept: event.keptModelId,
          },
          'policy model refused; keeping the current one',
        );
      }
    },
  });

  const context = createPathContext(serverOptionsFrom(config), { providers, policy: router, logger, metrics });
  const decisionLog: DecisionLog | undefined = config.decisionLog
    ? await createDecisionLog({
        path: config.decisionLog,
        rotate: {
          size: config.decisionLogRotateSize,
          ...(config.decisionLogRotateFrequency !== 'never' ? { frequency: config.decisionLogRotateFrequency } : {}),
        },
        sync: config.decisionLogSync,
        providers: descriptors.map((d) => d.name),
        onError: (error) => logger.error({ code: error.code, error: error.message }, 'decision log error'),
      })
    : undefined;
  const calibrationPath =
    config.calibrationState === 'auto'
      ? config.decisionLog && path.join(path.dirname(config.decisionLog), 'calibration.json')
      : config.calibrationState;
  const calibrationStore =
    config.calibration && calibrationPath
      ? await CalibrationStore.open(calibrationPath, {
          onError: (error) => logger.warn({ error: error.message }, 'calibration state'),
        })
      : undefined;
  const sampler = createReferenceSampler({
    probability: config.referenceProbability,
    maxPerMinute: config.referenceBudgetPerMinute,
  });
  loop = new LearningLoop({
    policy: router,
    sampler,
    ...(decisionLog ? { log: decisionLog } : {}),
    referenceKind: config.referenceKind,
    referenceKinds: referenceKindOverrides,
    // The controller's safe action for text must be no less safe than the text ladder's first rung.
    ...textSafeQuality(config),
    controller: {
      detector: config.controllerDetector,
      cusumReference: config.controllerCusumReference,
      cusumThreshold: config.controllerCusumThreshold,
      suspicionBoost: config.controllerSuspicionBoost,
      referenceProbability: config.referenceProbability,
      windowSize: config.controllerWindow,
      threshold: config.controllerThreshold,
      recoverThreshold: Math.max(config.controllerRecoverThreshold, config.controllerThreshold),
      safeQuality: config.safeQuality === 'auto' ? safeQualityFor(config.referenceKind) : config.safeQuality,
      boostedReferenceProbability: config.boostedReferenceProbability,
    },
    codecLimits: { maxInputPixels: config.maxInputPixels },
    runReference: (reference) => runPath(referencePath, reference, context),
    shrinkProbe: (provider, slot) => shrinkImage(slot, provider, slot.plan!.policy, context),
    ...(config.calibration
      ? {
          calibration: {
            config: {
              target: config.targetAgreement,
              calibratingReferenceProbability: config.calibrationReferenceProbability,
            },
            levels: config.calibrationLevels,
            ...(calibrationStore ? { store: calibrationStore } : {}),
          },
        }
      : {}),
    logger,
    onReference: (provider, result) => metrics.references.inc({ provider, result }),
  });
  const learningLoop = loop;
  observeLearningLoop(metrics, () => ({
    controllers: learningLoop.controllers(),
    sampler: sampler.counters(),
    calibration: learningLoop.calibration(),
  }));

  context.loop = learningLoop;
  const proxy = buildServer(context, { maxBodyBytes: config.maxBodyBytes });
  let shuttingDown = false;
  let shutdownDone: Promise<void> | undefined;
  const admin = buildAdmin({
    logger,
    registry: metrics.registry,
    readiness: () => {
      const policy = router.status();
      return {
        ready: !shuttingDown,
        detail: {
          shuttingDown,
          policy,
          controllers: learningLoop.controllers(),
          calibration: learningLoop.calibration(),
        },
      };
    },
  });
  admin.post('/policy/reload', async () => {
    const results = await router.reload();
    return { results, policy: router.status() };
  });
  const history = createHistory({
    registry: metrics.registry,
    controllers: () => learningLoop.controllers(),
    sampler: () => sampler.counters(),
    intervalMs: overrides.historyIntervalMs ?? config.statusHistoryIntervalMs,
  });
  admin.get('/status.json', async () => ({
    policy: router.status(),
    controllers: learningLoop.controllers(),
    calibration: learningLoop.calibration(),
    references: sampler.counters(),
    decisionLog: decisionLog?.stats(),
    history: [...history.samples(), await history.sample()],
  }));
  registerStatusPage(admin);

  return {
    config,
    logger,
    proxy,
    admin,
    router,
    loop: learningLoop,
    decisionLog,
    sampler,
    metrics,
    async listen() {
      await proxy.app.listen({ host: config.host, port: config.port });
      await admin.listen({ host: config.adminHost, port: config.adminPort });
      const proxyAddress = proxy.app.server.address();
      const adminAddress = admin.server.address();
      return {
        url: typeof proxyAddress === 'object' && proxyAddress ? `http://${config.host}:${proxyAddress.port}` : '',
        adminUrl:
          typeof adminAddress === 'object' && adminAddress ? `http://${config.adminHost}:${adminAddress.port}` : '',
      };
    },
    /**
     * Stop taking requests and finish within --shutdown-grace-ms: in-flight requests, their last steps (decision
     * lines) and every reference upload they started. When the grace runs out, each client still unanswered gets
     * SHUTTING_DOWN in its API's shape and the connections left are closed; the decision log then gets a short
     * bounded flush (a disk that fails must not keep the process alive). Never rejects.
     */
    shutdown() {
      shutdownDone ??= (async () => {
        shuttingDown = true;
        const graceMs = config.shutdownGraceMs;
        const deadline = performance.now() + graceMs;
        const after = afterGraceMs(graceMs);
        history.stop();
        const closed = proxy.app.close();
        if (!(await settlesBy(closed, deadline))) {
          const stuck = proxy.context.inFlight.size;
          logger.warn({ graceMs, stuck }, 'shutdown grace expired; answering the requests still in flight');
          proxy.context.inFlight.stopAll(
            new ProxyError('SHUTTING_DOWN', 503, 'The proxy is shutting down; retry the request'),
          );
          await proxy.context.inFlight.settled(performance.now() + after);
          proxy.app.server.closeAllConnections();
          await settlesBy(closed, performance.now() + after);
        }
        // An exchange's answer is sent before its decisions are logged and its reference upload starts.
        await proxy.context.inFlight.settled(deadline);
        const abandoned = await learningLoop.drain(Math.max(0, deadline - performance.now()));
        if (abandoned > 0) logger.warn({ abandoned, graceMs }, 'shutdown grace expired; reference uploads abandoned');
        await settlesBy(
          learningLoop.flushCalibration().catch((error: unknown) => {
            logger.warn({ err: error }, 'calibration state not saved');
          }),
          performance.now() + after,
        );
        if (decisionLog && !(await settlesBy(decisionLog.close(), performance.now() + after))) decisionLog.abandon();
        const lost = decisionLog?.stats().lostLines ?? 0;
        if (lost > 0) logger.error({ lost }, 'decision log: lines lost to write errors');
        await router.close();
        // Closed last: reference uploads still in flight after the listener closed use it.
        if (abandoned > 0) await context.agent.destroy();
        else await context.agent.close();
        await admin.close();
      })();
      return shutdownDone;
    },
    /** The forced exit's last act: the decision log lets go of what it still holds (see DecisionLog.abandon). */
    abandon() {
      decisionLog?.abandon();
    },
  };
}
export type Runtime = Awaited<ReturnType<typeof createRuntime>>;

/**
 * Text operations without a model of their own get the cautious quality ladder (--text-qualities), not the `*` model:
 * nothing learned from labels says what compression does to text. Empty option: no kind fallback.
 */
function kindFallbacks(
  config: ProxyConfig,
  descriptors: readonly ProviderDescriptor[],
): Pick<PolicyRouterOptions, 'kindFallbacks'> {
  const qualities = config.textQualities ? parseQualityLadder(config.textQualities) : undefined;
  if (!qualities) return {};
  const kinds = new Map(descriptors.flatMap((d) => d.operations.map((o) => [`${d.name}/${o.name}`, o.kind] as const)));
  return {
    kindFallbacks: {
      policies: { text: new QualityLadderPolicy(qualities, `text-ladder-q${qualities.join('-')}`) },
      kindOf: (context) => kinds.get(`${context.provider}/${context.operation}`),
    },
  };
}

function textSafeQuality(config: ProxyConfig): { safeQualities?: { text: number } } {
  const qualities = config.textQualities ? parseQualityLadder(config.textQualities) : undefined;
  return qualities ? { safeQualities: { text: qualities[0]! } } : {};
}

/**
 * Time given after the grace to answer the requests still in flight, and again to flush the decision log: a quarter of
 * the grace, between 50 ms and 1 s. The whole shutdown stays within grace + 3 x this (serve.ts's hard stop).
 */
export const afterGraceMs = (graceMs: number): number => Math.min(1000, Math.max(50, graceMs / 4));

/** Whether `promise` settled by `deadline` (performance.now()); it keeps running either way. */
async function settlesBy(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

function resolveModels(spec: string): Record<string, string> {
  const models = spec ? parseModelMap(spec, 'ADACOMPRESS_POLICY_MODELS') : {};
  return Object.fromEntries(
    Object.entries(models).map(([key, file]) => [key, path.isAbsolute(file) ? file : path.join(packageRoot, file)]),
  );
}
