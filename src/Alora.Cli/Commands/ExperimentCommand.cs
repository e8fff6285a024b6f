using System.CommandLine;
using System.Globalization;
using Alora.Experiments;

namespace Alora.Cli.Commands;

/// <summary>alora experiment: every method, seed and task of a YAML configuration, restartable, into results.csv and report.md (the library's <see cref="Experiment"/>).</summary>
public static class ExperimentCommand
{
    public static Command Create(CliIo io)
    {
        var config = new Option<string>("--config") { Description = "experiment YAML (model, general, domain, methods, seeds, train, overrides, sweeps...; see examples/experiment.yaml)", Required = true };
        var output = new Option<string>("--out") { Description = "experiment folder: runs/, results.csv, report.md, figures/ (rerun the same command to resume)", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "print the planned runs and what they share, and exit" };
        var cmd = new Command("experiment", "Run an experiment (methods x seeds x tasks, shared general stages and Fisher passes), evaluate every run, write results.csv and report.md; a rerun resumes.");
        cmd.Add(config); cmd.Add(output); cmd.Add(dryRun);
        cmd.SetAction(p =>
        {
            var c = ExperimentConfig.Load(p.GetValue(config)!);
            var outDir = p.GetValue(output)!;
            if (p.GetValue(dryRun))
            {
                var plan = ExperimentPlanner.Plan(c, outDir);
                foreach (var j in plan.Jobs)
                    io.Out.WriteLine($"{j.Name,-40} {j.Kind.ToString().ToLowerInvariant(),-8} {(j.DependsOn.Count > 0 ? "after " + string.Join(", ", j.DependsOn) : "")}");
                io.Out.WriteLine($"{plan.Jobs.Count} jobs, {plan.Entries.Count} result rows");
                return 0;
            }
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler? onCancel = null;
            if (ReferenceEquals(io.Err, Console.Error))
            {
                onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
                Console.CancelKeyPress += onCancel;
            }
            try
            {
                var outcome = ProgressView.RunExperiment(io, progress => Experiment.Run(c, outDir, new ExperimentRunOptions
                {
                    Progress = progress, Cancel = cancel.Token, Fisher = FisherStep.Default,
                }));
                var inv = CultureInfo.InvariantCulture;
                io.Out.WriteLine($"report: {outcome.Report}");
                io.Out.WriteLine($"results: {outcome.ResultsCsv}");
                io.Out.WriteLine(string.Create(inv, $"jobs: {outcome.Jobs}  trained: {outcome.Trained}  resumed: {outcome.Resumed}  already finished: {outcome.Skipped}  evaluations: {outcome.Evaluated}  fisher passes: {outcome.FisherPasses}  seconds: {outcome.Seconds:F1}"));
                return 0;
            }
            catch (OperationCanceledException)
            {
                io.Err.WriteLine($"interrupted: rerun the same command to resume ({outDir})");
                return 130;
            }
            finally
            {
                if (onCancel is not null) Console.CancelKeyPress -= onCancel;
            }
        });
        return cmd;
    }
}
