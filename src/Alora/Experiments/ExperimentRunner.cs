using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.IO;
using Alora.Lora;
using Alora.Models;
using Alora.Recipes;
using Alora.Runtime;
using Alora.Tokenization;
using Alora.Training;

namespace Alora.Experiments;

/// <summary>How an experiment is run (not what it computes).</summary>
public sealed record ExperimentRunOptions
{
    public IProgress<ExperimentProgress>? Progress { get; init; }

    /// <summary>Stops between training steps or jobs (an interrupted experiment resumes on the next call).</summary>
    public CancellationToken Cancel { get; init; }
    public IFisherStep Fisher { get; init; } = FisherStep.Default;

    /// <summary>How many jobs run at once through <see cref="LaunchJob"/>; 1 (or no launcher) runs them one after another in this process.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>
    /// Runs the named job elsewhere to completion (a child process that calls <see cref="Experiment.Run"/> with
    /// <see cref="OnlyJob"/>) and throws when it fails. Elsewhere, because libtorch's random generator is one per
    /// process: two jobs in one process would draw from each other's stream, a job alone in its process computes
    /// exactly what it computes here.
    /// </summary>
    public Func<string, CancellationToken, Task>? LaunchJob { get; init; }

    /// <summary>Runs only this job of the plan (a worker's part), without experiment.json, plan.json, results or report.</summary>
    public string? OnlyJob { get; init; }

    /// <summary>
    /// Hands the jobs to a cluster's scheduler instead of running them here (<see cref="SlurmLauncher"/>), given the
    /// plan and whether a job's outputs are all there; returns true when every job is done, and the results and the
    /// report are then written as after a run here; false leaves them to a later call.
    /// </summary>
    public Func<ExperimentPlan, Func<ExperimentJob, bool>, bool>? Submit { get; init; }
}

/// <summary>What one call did: jobs trained from scratch, resumed, found finished; evaluations and Fisher passes run; where the results are (empty and none for <see cref="ExperimentRunOptions.OnlyJob"/>).</summary>
public sealed record ExperimentOutcome(
    string OutDir,
    int Jobs,
    int Trained,
    int Resumed,
    int Skipped,
    int Evaluated,
    int FisherPasses,
    double Seconds,
    string ResultsCsv,
    string Report,
    IReadOnlyList<ResultRow> Rows
);

/// <summary>
/// Runs an experiment into DIR: every job of the plan in order (training through <see cref="FinetuneRecipe"/>,
/// evaluation through <see cref="EvalSuite"/>), then DIR/results.csv and DIR/report.md. Restartable: a finished
/// run (summary.json), evaluation (eval.json with the same spec) or Fisher (fisher.json) is kept, an interrupted
/// run resumes from its last checkpoint, so a rerun of a finished experiment trains nothing. With
/// <see cref="ExperimentRunOptions.Workers"/> &gt; 1 and a <see cref="ExperimentRunOptions.LaunchJob"/>, up to that
/// many jobs run at once, each as soon as the jobs it reads have finished.
/// </summary>
public static partial class Experiment
{
    /// <summary>A worker's log in its run folder (runs/NAME/worker.log), which a run that starts over keeps.</summary>
    public const string WorkerLog = "worker.log";

    public static ExperimentOutcome Run(ExperimentConfig config, string outDir, ExperimentRunOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new ExperimentRunOptions();
        var plan = ExperimentPlanner.Plan(config, outDir);
        return new Runner(config, plan, options).Run();
    }

    sealed partial class Runner(ExperimentConfig c, ExperimentPlan plan, ExperimentRunOptions opt)
    {
        int _trained,
            _resumed,
            _skipped,
            _evaluated,
            _fisher;
        int _index,
            _jobsDone;
        EtaEstimator _eta = new([]);

        public ExperimentOutcome Run()
        {
            if (opt.OnlyJob is { } only)
                return RunOnly(only);
            var clock = Stopwatch.StartNew();
            Directory.CreateDirectory(Path.Combine(plan.OutDir, "runs"));
            AtomicFile.WriteAllText(Path.Combine(plan.OutDir, "experiment.json"), JsonSerializer.Serialize(c, ExperimentConfig.Json) + "\n");
            AtomicFile.WriteAllText(Path.Combine(plan.OutDir, "plan.json"), plan.ToJson().ToJsonString(Indented) + "\n");
            foreach (var job in plan.Jobs)
                CheckIdentity(job);
            _eta = new EtaEstimator(plan.Jobs.SelectMany(Pending));
            if (opt.Submit is { } submit)
            {
                // the jobs ran (or run) under the scheduler: this call counts none of them as its own
                if (!submit(plan, Done))
                    return new ExperimentOutcome(
                        plan.OutDir,
                        plan.Jobs.Count,
                        0,
                        0,
                        plan.Jobs.Count(Done),
                        0,
                        0,
                        clock.Elapsed.TotalSeconds,
                        "",
                        "",
                        []
                    );
            }
            else if (opt.Workers > 1 && opt.LaunchJob is { } launch)
                new Workers(this, plan, opt, launch).Run();
            else
                foreach (var job in plan.Jobs)
                {
                    opt.Cancel.ThrowIfCancellationRequested();
                    _index++;
                    RunJob(job);
                    _jobsDone++;
                }
            foreach (var job in plan.Jobs)
                ExperimentResults.WriteRunResult(plan, job);
            var rows = ExperimentResults.Collect(plan);
            var csv = Path.Combine(plan.OutDir, "results.csv");
            ExperimentResults.WriteCsv(csv, rows, ExperimentResults.ProbeColumns(c));
            var report = ExperimentReport.Write(plan.OutDir, c, ExperimentResults.ReadCsv(csv));
            return new ExperimentOutcome(
                plan.OutDir,
                plan.Jobs.Count,
                _trained,
                _resumed,
                _skipped,
                _evaluated,
                _fisher,
                clock.Elapsed.TotalSeconds,
                csv,
                report,
                rows
            );
        }

        static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

        /// <summary>One job, as a worker runs it: its folder is checked and the job run; the experiment's files are the parent's.</summary>
        ExperimentOutcome RunOnly(string name)
        {
            var clock = Stopwatch.StartNew();
            var job = plan.Jobs.FirstOrDefault(j => j.Name == name)
                ?? throw new AloraException($"no job '{name}' in the plan of {c.Source ?? "the experiment"} (see --dry-run)");
            var missing = job.DependsOn.Where(d => !Done(plan.Job(d))).ToList();
            if (missing.Count > 0)
                throw new AloraException($"{name} needs {string.Join(", ", missing)} finished first");
            CheckIdentity(job);
            _eta = new EtaEstimator(Pending(job));
            _index = plan.Jobs.ToList().IndexOf(job) + 1;
            RunJob(job);
            return new ExperimentOutcome(plan.OutDir, 1, _trained, _resumed, _skipped, _evaluated, _fisher, clock.Elapsed.TotalSeconds, "", "", []);
        }

        /// <summary>Whether everything the job computes is on disk already.</summary>
        bool Done(ExperimentJob job) => !Pending(job).Any();

        /// <summary>The stages of a job that still have to run, for the time estimate.</summary>
        IEnumerable<string> Pending(ExperimentJob job)
        {
            var dir = plan.RunDir(job.Name);
            if (job.Kind is JobKind.General or JobKind.Domain && !File.Exists(Path.Combine(dir, "summary.json")))
                yield return Stage(job);
            if (job.Kind == JobKind.Fisher && !File.Exists(Path.Combine(dir, "fisher.json")))
                yield return "fisher";
            if (job.Eval is not null && !EvalDone(job))
                yield return "eval";
        }

        static string Stage(ExperimentJob job) =>
            job.Kind switch
            {
                JobKind.General => "general stage",
                JobKind.Domain => "domain stage",
                JobKind.Fisher => "fisher",
                _ => "eval",
            };

        /// <summary>job.json holds what the run computes; a folder made by another configuration is refused rather than silently reused.</summary>
        void CheckIdentity(ExperimentJob job)
        {
            var dir = plan.RunDir(job.Name);
            var path = Path.Combine(dir, "job.json");
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(dir);
                AtomicFile.WriteAllText(path, job.Identity.ToJsonString(Indented) + "\n");
                return;
            }
            var old = JsonNode.Parse(File.ReadAllText(path));
            if (JsonNode.DeepEquals(old, job.Identity))
                return;
            var diff = Differences(old, job.Identity, "").Take(6).ToList();
            throw new AloraException(
                $"{dir} was made by another configuration (differs in {string.Join(", ", diff)}): "
                    + "use another --out, or delete that run folder to recompute it"
            );
        }

        static IEnumerable<string> Differences(JsonNode? a, JsonNode? b, string path)
        {
            if (a is JsonObject oa && b is JsonObject ob)
            {
                foreach (var k in oa.Select(kv => kv.Key).Union(ob.Select(kv => kv.Key)))
                foreach (var d in Differences(oa[k], ob[k], path.Length == 0 ? k : path + "." + k))
                    yield return d;
            }
            else if (!JsonNode.DeepEquals(a, b))
                yield return path.Length == 0 ? "(all)" : path;
        }

        void RunJob(ExperimentJob job)
        {
            switch (job.Kind)
            {
                case JobKind.General:
                    Train(job);
                    break;
                case JobKind.Domain:
                    Train(job);
                    if (job.Eval is not null)
                        Evaluate(job, plan.RunDir(job.Name));
                    break;
                case JobKind.Scaled:
                    Evaluate(job, plan.RunDir(job.AdapterOf!), job.AdapterScale ?? 1);
                    break;
                case JobKind.Fisher:
                    Fisher(job);
                    break;
                case JobKind.Base:
                    Evaluate(job, null);
                    break;
            }
        }

        void Report(ProgressEvent e, ExperimentJob job, string stage, long step = 0, long total = 0, double? loss = null)
        {
            if (opt.Progress is null)
                return;
            var (stageLeft, left) = e == ProgressEvent.Step ? _eta.Remaining(step, total) : (null, null);
            opt.Progress.Report(
                new ExperimentProgress(e, _index, plan.Jobs.Count, job.Name, stage, step, total, loss, _eta.Elapsed, stageLeft, left)
                {
                    JobsDone = _jobsDone,
                }
            );
        }

        void Train(ExperimentJob job)
        {
            var dir = plan.RunDir(job.Name);
            var stage = Stage(job);
            if (File.Exists(Path.Combine(dir, "summary.json")))
            {
                _skipped++;
                _eta.Drop(stage);
                Report(ProgressEvent.Skipped, job, stage);
                return;
            }
            bool resume = HasCheckpoint(dir);
            if (!resume)
                Clean(dir); // a run killed before its first checkpoint starts over (its metrics.jsonl would otherwise be appended to)
            _eta.Start(stage);
            Report(ProgressEvent.Started, job, stage);
            PeakMemory.Reset();
            var progress = new SyncProgress<TrainProgress>(p => Report(ProgressEvent.Step, job, stage, p.Step, p.TotalSteps, p.Loss));
            var result = FinetuneRecipe.Run(job.Train!, progress, null, opt.Cancel);
            if (!File.Exists(Path.Combine(dir, "summary.json")))
                throw new OperationCanceledException($"{job.Name} stopped at step {result.Steps}");
            if (resume)
                _resumed++;
            else
                _trained++;
            _eta.Finish();
            Report(ProgressEvent.Finished, job, stage, result.Steps, result.Steps, result.FinalLoss);
        }

        static bool HasCheckpoint(string dir)
        {
            var ck = Path.Combine(dir, "checkpoints");
            return Directory.Exists(ck) && Directory.GetDirectories(ck, "step-*").Any(d => File.Exists(Path.Combine(d, "trainer_state.json")));
        }

        /// <summary>
        /// Removes what an unfinished run without a checkpoint left, keeping job.json and the logs its worker or its
        /// Slurm jobs write (slurm-JOBID.out, which the running job itself may be writing).
        /// </summary>
        static void Clean(string dir)
        {
            if (!Directory.Exists(dir))
                return;
            static bool Keep(string name) =>
                name is "job.json" or WorkerLog
                || (name.StartsWith("slurm-", StringComparison.Ordinal) && name.EndsWith(".out", StringComparison.Ordinal));
            foreach (var f in Directory.GetFiles(dir).Where(f => !Keep(Path.GetFileName(f))))
                File.Delete(f);
            foreach (var d in Directory.GetDirectories(dir))
                Directory.Delete(d, true);
        }

        bool EvalDone(ExperimentJob job)
        {
            var path = Path.Combine(plan.RunDir(job.Name), "eval.json");
            if (!File.Exists(path))
                return false;
            try
            {
                return JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(path))?["spec"], SpecJson(job.Eval!));
            }
            catch (JsonException)
            {
                return false;
            }
        }

        /// <summary>What an evaluation measures, as stored in eval.json: a changed spec (a probe added, another limit) re-evaluates.</summary>
        internal static JsonObject SpecJson(EvalSuiteSpec spec) =>
            new JsonObject
            {
                ["corpora"] = new JsonArray(spec.Corpora.Select(x => (JsonNode)new JsonObject { ["name"] = x.Name, ["path"] = x.Path }).ToArray()),
                ["tasks"] = new JsonArray(
                    spec.Tasks.Select(x =>
                            (JsonNode)
                                new JsonObject
                                {
                                    ["name"] = x.Name,
                                    ["task"] = x.Task,
                                    ["path"] = x.Path,
                                    ["labels"] = x.LabelsPath,
                                }
                        )
                        .ToArray()
                ),
                ["limit"] = spec.Limit,
                ["max_length"] = spec.Perplexity.MaxLength,
                ["stride"] = spec.Perplexity.Stride,
            };

        /// <summary>Evaluates the base model, or it with the adapter of a run folder applied as W0 + <paramref name="adapterScale"/> D.</summary>
        void Evaluate(ExperimentJob job, string? adapter, double adapterScale = 1)
        {
            if (EvalDone(job))
            {
                _eta.Drop("eval");
                Report(ProgressEvent.Skipped, job, "eval");
                return;
            }
            opt.Cancel.ThrowIfCancellationRequested();
            _eta.Start("eval");
            Report(ProgressEvent.Started, job, "eval");
            var clock = Stopwatch.StartNew();
            PeakMemory.Reset();
            using var model = ModelLoader.Load(c.Model, TorchRuntime.ParseDevice(c.Device), c.Dtype.ToScalarType());
            if (adapter is not null)
                PeftAdapter.Apply(model, adapter, adapterScale);
            model.eval();
            using var tok =
                File.Exists(Path.Combine(c.Model, "tokenizer.json")) || File.Exists(Path.Combine(c.Model, "tokenizer.model"))
                    ? TextTokenizer.Load(c.Model)
                    : null;
            var progress = new SyncProgress<SuiteProgress>(p => Report(ProgressEvent.Step, job, "eval " + p.Part, p.Progress.Done, p.Progress.Total));
            var result = EvalSuite.Run(model, tok, job.Eval!, progress);
            var json = EvalJson.Suite(result, c.Model);
            json["adapter"] = adapter;
            json["adapter_scale"] = adapter is null ? null : adapterScale;
            json["spec"] = SpecJson(job.Eval!);
            json["seconds"] = clock.Elapsed.TotalSeconds;
            json["peak_memory_bytes"] = PeakMemory.Bytes();
            AtomicFile.WriteAllText(Path.Combine(plan.RunDir(job.Name), "eval.json"), EvalJson.Write(json) + "\n");
            _evaluated++;
            _eta.Finish();
            Report(ProgressEvent.Finished, job, "eval");
        }

        void Fisher(ExperimentJob job)
        {
            var dir = plan.RunDir(job.Name);
            var report = Path.Combine(dir, "fisher.json");
            if (File.Exists(report))
            {
                _skipped++;
                _eta.Drop("fisher");
                Report(ProgressEvent.Skipped, job, "fisher");
                return;
            }
            _eta.Start("fisher");
            Report(ProgressEvent.Started, job, "fisher");
            PeakMemory.Reset();
            var progress = new SyncProgress<EvalProgress>(p => Report(ProgressEvent.Step, job, "fisher", p.Done, p.Total));
            var r = opt.Fisher.Estimate(job.Fisher!, Path.Combine(dir, "fisher.safetensors"), progress, opt.Cancel);
            var o = new JsonObject
            {
                ["seconds"] = r.Seconds,
                ["bytes"] = r.Bytes,
                ["samples"] = r.Samples,
                ["tokens"] = r.Tokens,
                ["mean"] = r.Mean,
                ["peak_memory_bytes"] = PeakMemory.Bytes(),
                ["request"] = JsonSerializer.SerializeToNode(job.Fisher, ExperimentConfig.Json),
            };
            AtomicFile.WriteAllText(report, o.ToJsonString(Indented) + "\n");
            _fisher++;
            _eta.Finish();
            Report(ProgressEvent.Finished, job, "fisher");
        }
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool and can arrive late).</summary>
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
