using System.CommandLine;
using System.Globalization;
using Alora.Demo;
using Alora.Experiments;

namespace Alora.Cli.Commands;

/// <summary>alora demo: the whole method offline on data and a base model Alora makes itself (<see cref="DemoRecipe"/>).</summary>
public static class DemoCommand
{
    public static Command Create(CliIo io)
    {
        var output = new Option<string>("--out")
        {
            Description = "demo folder: data/, experiment.yaml, experiment/ (results.csv, report.md)",
            DefaultValueFactory = _ => "alora-demo",
        };
        var quick = new Option<bool>("--quick") { Description = "short stages (a smoke run of the whole pipeline)" };
        var study = new Option<bool>("--study")
        {
            Description =
                "the frontier study: every method at four strengths, 3 seeds, about 30 minutes on 2 cores (with --quick: its smoke run; --seeds 5 adds seeds to a finished study)",
        };
        var sequential = new Option<bool>("--sequential")
        {
            Description =
                "sequential domains: general text, then pharma, then zoo; what each method keeps of pharma and of the general text (with --quick: its smoke run)",
        };
        var seeds = new Option<int?>("--seeds") { Description = "number of seeds, 1 to N (default: 3, 2 with --quick)" };
        var cache = new Option<string?>("--cache") { Description = "folder of cached base models (default ~/.cache/alora/demo-base)" };
        var workers = new Option<int>("--workers")
        {
            Description = "experiment jobs run at once, each in a process of its own (default: 2 on 2 or more cores)",
            DefaultValueFactory = _ => Math.Min(2, Environment.ProcessorCount),
        };
        var cmd = new Command(
            "demo",
            "Generate the synthetic data, pretrain (or reuse) the base model, run every method over the seeds, print the results and where the report is."
        );
        cmd.Add(output);
        cmd.Add(quick);
        cmd.Add(study);
        cmd.Add(sequential);
        cmd.Add(seeds);
        cmd.Add(cache);
        cmd.Add(workers);
        cmd.SetAction(p =>
        {
            var outDir = p.GetValue(output)!;
            if (p.GetValue(study) && p.GetValue(sequential))
                throw new AloraException("--study and --sequential are two demos: give one (and another --out for the other)");
            var o = (p.GetValue(study), p.GetValue(sequential), p.GetValue(quick)) switch
            {
                (true, _, true) => DemoOptions.StudyQuick(outDir),
                (true, _, false) => DemoOptions.Study(outDir),
                (_, true, true) => DemoOptions.SequentialQuick(outDir),
                (_, true, false) => DemoOptions.SequentialRun(outDir),
                (_, _, true) => DemoOptions.QuickRun(outDir),
                _ => DemoOptions.Default(outDir),
            };
            int n = p.GetValue(seeds) ?? o.Seeds.Count;
            if (n < 1)
                throw new AloraException("--seeds must be at least 1");
            int w = p.GetValue(workers);
            if (w < 1)
                throw new AloraException("--workers must be at least 1");
            o = o with { Seeds = Enumerable.Range(1, n).Select(i => (long)i).ToList(), CacheDir = p.GetValue(cache), Workers = w };
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using var ctrlC = new CancelOnSignal(io);
            DemoOutcome r;
            try
            {
                // the recipe writes its experiment to OUT/experiment.yaml and runs it into OUT/experiment: each worker runs one job of that
                var launcher = ChildJobLauncher.ForThisProgram(Path.Combine(outDir, "experiment.yaml"), Path.Combine(outDir, "experiment"));
                r = ProgressView.RunExperiment(io, (progress, log) => DemoRecipe.Run(
                        o,
                        log,
                        new ExperimentRunOptions
                        {
                            Progress = progress,
                            Cancel = ctrlC.Token,
                            LaunchJob = w > 1 ? launcher.Run : null,
                        }
                    ));
            }
            catch (OperationCanceledException)
            {
                io.Err.WriteLine($"interrupted: rerun the same command to resume ({outDir})");
                return 130;
            }
            var inv = CultureInfo.InvariantCulture;
            io.Out.WriteLine(string.Create(inv, $"{"method", -16} {"seeds", 5} {"general ppl", 12} {"domain acc", 11} {"facts acc", 10}"));
            foreach (var row in DemoRecipe.Summarize(r.Experiment.Rows, o.Methods))
                io.Out.WriteLine(
                    string.Create(inv, $"{row.Method, -16} {row.Seeds, 5} {row.GeneralPpl, 12:F3} {row.DomainAcc, 11:F3} {row.FactsAcc, 10:F3}")
                );
            var sequence = DemoRecipe.SummarizeSequence(r.Experiment.Rows, o.Methods);
            if (sequence.Count > 0)
            {
                io.Out.WriteLine("after pharma, then zoo:");
                io.Out.WriteLine(string.Create(inv, $"{"method", -16} {"seeds", 5} {"general ppl", 12} {"pharma acc", 11} {"zoo acc", 10}"));
                foreach (var row in sequence)
                    io.Out.WriteLine(
                        string.Create(inv, $"{row.Method, -16} {row.Seeds, 5} {row.GeneralPpl, 12:F3} {row.PharmaAcc, 11:F3} {row.ZooAcc, 10:F3}")
                    );
            }
            io.Out.WriteLine(
                $"base model: {r.BaseModel}{(r.BaseFromCache ? " (cached)" : string.Create(inv, $" (pretrained in {r.PretrainSeconds:F0} s)"))}"
            );
            io.Out.WriteLine($"report: {r.Experiment.Report}");
            io.Out.WriteLine($"results: {r.Experiment.ResultsCsv}");
            io.Out.WriteLine(string.Create(inv, $"seconds: {sw.Elapsed.TotalSeconds:F0}"));
            return 0;
        });
        return cmd;
    }
}
