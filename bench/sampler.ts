/**
 * One measured run's cost to this process (the worker) and to a server process: CPU seconds used between start and
 * stop, and peak RSS sampled every 100 ms.
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

export function startSampling(serverPid: number, intervalMs = 100): Sampling {
  const workerCpuStart = process.cpuUsage();
  const serverCpuStart = cpuSeconds(serverPid);
  let workerPeak = process.memoryUsage.rss();
  let serverPeak = rssBytes(serverPid);
  const sample = (): void => {
    workerPeak = Math.max(workerPeak, process.memoryUsage.rss());
    serverPeak = Math.max(serverPeak, rssBytes(serverPid));
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop(): RunCost {
      clearInterval(timer);
      sample();
      const workerCpu = process.cpuUsage(workerCpuStart);
      return {
        worker: { cpuSeconds: (workerCpu.user + workerCpu.system) / 1e6, peakRssBytes: workerPeak },
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
