/**
 * One measured run's cost to the worker (this process or another) and to a server process: CPU seconds used between
 * start and stop, and peak RSS sampled every 100 ms.
 */
import { cpuSeconds, rssBytes } from './proc';

export interface ProcessCost {
  cpuSeconds: number;
  peakRssBytes: number;
}

export interface RunCost {
  worker: ProcessCost;
  server: ProcessCost;
}

export interface Sampling {
  stop(): RunCost;
}

/** Samples a server process and the worker: this process, or a worker process of its own (`workerPid`). */
export function startSampling(serverPid: number, intervalMs = 100, workerPid = process.pid): Sampling {
  const workerCpuStart = cpuSeconds(workerPid);
  const serverCpuStart = cpuSeconds(serverPid);
  let workerPeak = rssBytes(workerPid);
  let serverPeak = rssBytes(serverPid);
  const sample = (): void => {
    workerPeak = Math.max(workerPeak, rssBytes(workerPid));
    serverPeak = Math.max(serverPeak, rssBytes(serverPid));
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop(): RunCost {
      clearInterval(timer);
      sample();
      return {
        worker: { cpuSeconds: cpuSeconds(workerPid) - workerCpuStart, peakRssBytes: workerPeak },
        server: { cpuSeconds: cpuSeconds(serverPid) - serverCpuStart, peakRssBytes: serverPeak },
      };
    },
  };
}

/** A measured run's figures, per target where it says so. */
export interface RunFigures {
  wallSeconds: number;
  workerCpuMsPerTarget: number;
  serverCpuMsPerTarget: number;
  workerPeakRssMiB: number;
  serverPeakRssMiB: number;
}

const MIB = 2 ** 20;

/** Times `run` (start to result) and samples this process and the server while it runs. */
export async function measureRun<T>(
  serverPid: number,
  width: number,
  run: () => Promise<T>,
): Promise<{ figures: RunFigures; value: T }> {
  const sampling = startSampling(serverPid);
  const start = performance.now();
  const value = await run();
  const wallMs = performance.now() - start;
  const cost = sampling.stop();
  return {
    value,
    figures: {
      wallSeconds: wallMs / 1000,
      workerCpuMsPerTarget: (cost.worker.cpuSeconds * 1000) / width,
      serverCpuMsPerTarget: (cost.server.cpuSeconds * 1000) / width,
      workerPeakRssMiB: cost.worker.peakRssBytes / MIB,
      serverPeakRssMiB: cost.server.peakRssBytes / MIB,
    },
  };
}
