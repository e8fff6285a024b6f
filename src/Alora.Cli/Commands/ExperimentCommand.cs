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
        var launcher = new Option<string>("--launcher")
        {
            Description =
                "local: the jobs run on this machine (--workers at once); slurm: one sbatch job per job, with afterok dependencies, resources from the config's slurm mapping (see docs/cluster.md)",
            DefaultValueFactory = _ => "local",
        };
        launcher.AcceptOnlyFromAmong("local", "slurm");
        var slurmOpt = new Option<string[]>("--slurm-opt")
        {
            Description = "KEY=VALUE: an sbatch long option for every job, over the config's (repeatable; e.g. partition=gpu, time=04:00:00)",
            DefaultValueFactory = _ => [],
        };
        var wait = new Option<bool>("--wait")
        {
            Description = "with --launcher slurm: watch the jobs (squeue, sacct, the run folders) until all are done, then write the results",
        };
        var poll = new Option<double>("--poll-seconds")
        {
            Description = "with --wait: seconds between looks at Slurm's queue",
            DefaultValueFactory = _ => 10,
        };
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
        cmd.Add(launcher);
        cmd.Add(slurmOpt);
        cmd.Add(wait);
        cmd.Add(poll);
        cmd.SetAction(p =>
        {
            var configPath = p.GetValue(config)!;
            bool slurm = p.GetValue(launcher) == "slurm";
            CheckLauncherOptions(p, slurm, [slurmOpt, wait, poll], workers, job);
            var c = ExperimentConfig.Load(configPath);
            var outDir = p.GetValue(output)!;
            if (slurm)
                return RunSlurm(io, p, c, configPath, outDir, p.GetValue(slurmOpt)!, p.GetValue(dryRun), p.GetValue(wait), p.GetValue(poll));
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
            using var ctrlC = new CancelOnSignal(io);
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

    /// <summary>Options of one launcher given with the other are errors, not silently ignored.</summary>
    static void CheckLauncherOptions(ParseResult p, bool slurm, Option[] slurmOnly, Option<int> workers, Option<string?> job)
    {
        if (!slurm)
        {
            foreach (var o in slurmOnly.Where(o => p.GetResult(o) is { Implicit: false }))
                throw new AloraException($"{o.Name} applies to --launcher slurm only");
            return;
        }
        if (p.GetResult(workers) is { Implicit: false })
            throw new AloraException("--workers applies to --launcher local: under slurm every job is a batch job of its own");
        if (p.GetValue(job) is not null)
            throw new AloraException("--job runs one job here: give it without --launcher slurm (the batch jobs run exactly that)");
    }

    /// <summary>--launcher slurm: submits what is left (or prints the scripts with --dry-run); once all is done, the results and the report.</summary>
    static int RunSlurm(
        CliIo io,
        ParseResult p,
        ExperimentConfig c,
        string configPath,
        string outDir,
        string[] opts,
        bool dryRun,
        bool wait,
        double poll
    )
    {
        if (!(poll > 0) || !double.IsFinite(poll))
            throw new AloraException($"--poll-seconds must be a positive number of seconds (got {poll.ToString(CultureInfo.InvariantCulture)})");
        var (file, prefix) = ChildJobLauncher.SelfCommand();
        var slurm = new SlurmLauncher(SlurmResources.From(c, opts), configPath, outDir, [file, .. prefix], io.Err, wait, TimeSpan.FromSeconds(poll));
        if (dryRun)
        {
            var plan = ExperimentPlanner.Plan(c, outDir);
            io.Out.Write(slurm.DryRun(plan, j => false));
            return 0;
        }
        var outcome = Experiment.Run(c, outDir, new ExperimentRunOptions { Submit = slurm.Submit });
        if (outcome.Report.Length == 0)
            return 0;
        io.Out.WriteLine($"report: {outcome.Report}");
        io.Out.WriteLine($"results: {outcome.ResultsCsv}");
        return 0;
    }
}
