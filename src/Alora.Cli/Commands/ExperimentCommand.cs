using System.CommandLine;
using System.Globalization;
using Alora.Experiments;
using TorchSharp;

namespace Alora.Cli.Commands;

/// <summary>alora experiment: every method, seed and task of a YAML configuration, restartable, into results.csv and report.md (the library's <see cref="Experiment"/>).</summary>
public static class ExperimentCommand
{
    public static Command Create(CliIo io)
    {
        var config = new Option<string>("--config")
        {
            Description = "experiment YAML (model, general, domain, methods, seeds, train, overrides, sweeps...; see examples/experiment.yaml)",
            Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "experiment folder: runs/, results.csv, report.md, figures/ (rerun the same command to resume)",
            Required = true,
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "print the planned runs and what they share, and exit" };
        var workers = new Option<int>("--workers")
        {
            Description =
                "jobs run at once, each in a process of its own with one torch thread (same results as 1; about one per core for small models)",
            DefaultValueFactory = _ => 1,
        };
        var job = new Option<string?>("--job")
        {
            Description =
                "run only this job of the plan, whose dependencies have finished (what each worker of --workers runs; its log is runs/JOB/worker.log)",
        };
        var threads = new Option<int>("--threads") { Description = "torch's CPU threads (default: torch's own choice)" };
        var cmd = new Command(
            "experiment",
            "Run an experiment (methods x seeds x tasks, shared general stages and Fisher passes), evaluate every run, write results.csv and report.md; a rerun resumes."
        );
        cmd.Add(config);
        cmd.Add(output);
        cmd.Add(dryRun);
        cmd.Add(workers);
        cmd.Add(job);
        cmd.Add(threads);
        cmd.SetAction(p =>
        {
            var configPath = p.GetValue(config)!;
            var c = ExperimentConfig.Load(configPath);
            var outDir = p.GetValue(output)!;
            if (p.GetValue(dryRun))
            {
                var plan = ExperimentPlanner.Plan(c, outDir);
                foreach (var j in plan.Jobs)
                    io.Out.WriteLine(
                        $"{j.Name, -40} {j.Kind.ToString().ToLowerInvariant(), -8} {(j.DependsOn.Count > 0 ? "after " + string.Join(", ", j.DependsOn) : "")}"
                    );
                io.Out.WriteLine($"{plan.Jobs.Count} jobs, {plan.Entries.Count} result rows");
                return 0;
            }
            int n = p.GetValue(workers),
                t = p.GetValue(threads);
            if (n < 1)
                throw new AloraException("--workers must be at least 1");
            if (t < 0)
                throw new AloraException($"--threads must be at least 1, or 0 for torch's own choice (got {t})");
            if (t > 0)
                torch.set_num_threads(t);
            var only = p.GetValue(job);
            using var ctrlC = new CancelOnCtrlC(io);
            try
            {
                var options = new ExperimentRunOptions
                {
                    Cancel = ctrlC.Token,
                    Fisher = FisherStep.Default,
                    OnlyJob = only,
                    Workers = n,
                    LaunchJob = n > 1 && only is null ? ChildJobLauncher.ForThisProgram(configPath, outDir).Run : null,
                };
                var outcome = ProgressView.RunExperiment(io, progress => Experiment.Run(c, outDir, options with { Progress = progress }));
                var inv = CultureInfo.InvariantCulture;
                if (only is null)
                {
                    io.Out.WriteLine($"report: {outcome.Report}");
                    io.Out.WriteLine($"results: {outcome.ResultsCsv}");
                }
                io.Out.WriteLine(
                    string.Create(
                        inv,
                        $"jobs: {outcome.Jobs}  trained: {outcome.Trained}  resumed: {outcome.Resumed}  already finished: {outcome.Skipped}  evaluations: {outcome.Evaluated}  fisher passes: {outcome.FisherPasses}  seconds: {outcome.Seconds:F1}"
                    )
                );
                return 0;
            }
            catch (OperationCanceledException)
            {
                io.Err.WriteLine($"interrupted: rerun the same command to resume ({outDir})");
                return 130;
            }
        });
        return cmd;
    }
}
