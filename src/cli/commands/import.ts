import type { Command } from 'commander';
import { contracts } from '../../contracts/validator.js';
import { parseCount, parseHours, parseOnError } from '../../importers/core/options.js';
import { ImportRun, type ImportSummary } from '../../importers/core/run.js';
import { checkPhysionetOptions, importPhysionet, listStays } from '../../importers/physionet2019/importer.js';
import { DEFAULT_ANCHOR, DEFAULT_REPORT_DELAY_HOURS } from '../../importers/physionet2019/mapping.js';
import { importSdtm, locateDomains, parseFormat } from '../../importers/sdtm/importer.js';
import { openSink, parseSinkTarget } from '../../producers/target.js';
import { progress } from '../progress.js';

const PROGRESS_EVERY = 500;

interface CommonFlags {
  to?: string[];
  onError?: string;
}

function printSummary(summary: ImportSummary): void {
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

/** Opens the sink, runs one import, always closes the sink, prints the summary. */
async function withRun(
  importer: string,
  flags: CommonFlags,
  body: (run: ImportRun) => Promise<void>,
): Promise<void> {
  const target = parseSinkTarget(flags.to);
  const onError = parseOnError(flags.onError);
  const sink = await openSink(target);
  try {
    const run = new ImportRun({ importer, sink, contracts: contracts(), nowMs: Date.now(), onError });
    await body(run);
    printSummary(await run.finish());
  } finally {
    await sink.close();
  }
}

export function registerImport(program: Command): void {
  const imp = program
    .command('import')
    .description('Import real clinical data into the topics (and enrollment)');

  imp
    .command('physionet2019')
    .description('PhysioNet/CinC Challenge 2019 ICU stays (one .psv per stay); mapping in docs/importers.md')
    .argument('<dir>', 'directory of .psv files, e.g. ../shared/data/physionet2019/training_setA')
    .option('--limit <n>', 'import only the first N stays (by file name)')
    .option('--to <target...>', 'kafka | dir PATH', ['kafka'])
    .option(
      '--on-error <policy>',
      'skip | stop: go on past a bad row/file (counted) or stop at the first',
      'stop',
    )
    .option(
      '--report-delay-hours <h>',
      'hours from sepsis onset to its adverse-event report',
      String(DEFAULT_REPORT_DELAY_HOURS),
    )
    .option('--anchor <instant>', 'ICU admission instant (ICULOS 0) of every stay', DEFAULT_ANCHOR)
    .action(
      async (
        dir: string,
        flags: CommonFlags & { limit?: string; reportDelayHours?: string; anchor?: string },
      ) => {
        const limit = parseCount(flags.limit, '--limit');
        const reportDelayHours = parseHours(flags.reportDelayHours, '--report-delay-hours');
        parseSinkTarget(flags.to);
        parseOnError(flags.onError);
        checkPhysionetOptions({
          ...(reportDelayHours === undefined ? {} : { reportDelayHours }),
          ...(flags.anchor === undefined ? {} : { anchor: flags.anchor }),
        });
        const total = listStays(dir, limit).length;
        await withRun('physionet2019', flags, async (run) => {
          const bar = progress('physionet2019', total);
          let done = 0;
          try {
            await importPhysionet(dir, run, {
              ...(limit === undefined ? {} : { limit }),
              ...(reportDelayHours === undefined ? {} : { reportDelayHours }),
              ...(flags.anchor === undefined ? {} : { anchor: flags.anchor }),
              // A tick per 500 stays keeps non-TTY logs short (20,336 stays: 41 lines).
              onFile: () => {
                done++;
                if (done % PROGRESS_EVERY === 0) bar.tick(PROGRESS_EVERY);
                else if (done === total) bar.tick(done % PROGRESS_EVERY);
              },
            });
          } finally {
            bar.stop();
          }
        });
      },
    );

  imp
    .command('sdtm')
    .description('CDISC SDTM domains (DM, VS, LB, CM, EX, AE) from Parquet or SAS transport (XPT v5) files')
    .argument('<dir>', 'directory of <domain>.parquet or <domain>.xpt files')
    .option('--format <format>', 'auto | parquet | xpt (auto: Parquet where both exist)', 'auto')
    .option('--to <target...>', 'kafka | dir PATH', ['kafka'])
    .option(
      '--on-error <policy>',
      'skip | stop: go on past a bad row/file (counted) or stop at the first',
      'stop',
    )
    .action(async (dir: string, flags: CommonFlags & { format?: string }) => {
      const format = parseFormat(flags.format);
      parseSinkTarget(flags.to);
      parseOnError(flags.onError);
      locateDomains(dir, format);
      await withRun('sdtm', flags, (run) => importSdtm(dir, run, { format }));
    });
}
