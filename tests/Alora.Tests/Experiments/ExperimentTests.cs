using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Alora.Experiments;
using Alora.Recipes;
using Alora.Tests.Cli;
using SkiaSharp;
using Xunit.Abstractions;

namespace Alora.Tests.Experiments;

/// <summary>
/// The experiment end to end on the tiny Llama fixture: two methods (lora-nu-mu and alora) sharing one general
/// stage per seed, two seeds, a phi sweep, a handful of steps; then a rerun (no training), and an interrupted
/// experiment resumed to the same numbers.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class ExperimentTests(ITestOutputHelper output)
{
    static readonly string Ptb = Path.Combine(Fixtures.Root, "text", "ptb", "ptb.valid.txt");

    static readonly (string Obj, string Color)[] Facts =
    [
        ("apple", "red"),
        ("leaf", "green"),
        ("sky", "blue"),
        ("sun", "yellow"),
        ("coal", "black"),
        ("snow", "white"),
        ("banana", "yellow"),
        ("grass", "green"),
        ("ocean", "blue"),
        ("cloud", "white"),
    ];

    static readonly string[] Colors = ["red", "green", "blue", "yellow", "black", "white"];

    /// <summary>A generic multiple-choice JSONL: "What color is the X?" with four colours, the answer's place varying.</summary>
    static void WriteQuiz(string path, int count, int offset)
    {
        using var w = new StreamWriter(path);
        for (int i = 0; i < count; i++)
        {
            var (obj, color) = Facts[(i + offset) % Facts.Length];
            var wrong = Colors.Where(c => c != color).Skip(i % 3).Take(3).ToList();
            int at = (i + offset) % 4;
            wrong.Insert(at, color);
            var item = new JsonObject
            {
                ["question"] = $"What color is the {obj}?",
                ["choices"] = new JsonArray(wrong.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
                ["answer"] = at,
            };
            w.WriteLine(item.ToJsonString());
        }
    }

    /// <summary>Writes the data and the YAML into <paramref name="dir"/> and returns the YAML's path.</summary>
    internal static string WriteExperiment(string dir, string methods = "[lora-nu-mu, alora]", string extra = "")
    {
        var lines = File.ReadLines(Ptb).Take(150).ToList();
        File.WriteAllLines(Path.Combine(dir, "general-train.txt"), lines.Take(120));
        File.WriteAllLines(Path.Combine(dir, "general-heldout.txt"), lines.Skip(120));
        WriteQuiz(Path.Combine(dir, "quiz-train.jsonl"), 16, 0);
        WriteQuiz(Path.Combine(dir, "quiz-test.jsonl"), 8, 3);
        var yaml = Path.Combine(dir, "experiment.yaml");
        File.WriteAllText(
            yaml,
            $"""
            # paths are relative to this file
            model: {Fixtures.Model("tiny-random-llama")}
            general:
              train: general-train.txt
              heldout: general-heldout.txt
            domain:
              - name: quiz
                task: mcq
                train: quiz-train.jsonl
                test: quiz-test.jsonl
            methods: {methods}
            seeds: [1, 2]
            train:
              rank: 4
              alpha: 8
              lr: 0.01
              batch_size: 4
              micro-batch-size: 4
              max-steps: 4
              max-length: 32
              checkpoint-every: 2
            overrides:
              alora: {"{"}phi: 100{"}"}
            eval:
              limit: 6
            {extra}
            """
        );
        return yaml;
    }

    [FixtureFact]
    public void ExperimentWritesResultsAndReport_ARerunTrainsNothing_AndAnInterruptedOneResumesToTheSameNumbers()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, extra: "sweeps:\n  phi: [1]\n");
        var outDir = tmp.File("out");

        // 1. the command, in a pipe: plain progress lines on stderr
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = CliRunner.Run("experiment", "--config", yaml, "--out", outDir);
        Assert.True(code == 0, stderr);
        output.WriteLine($"experiment: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Contains("report: ", stdout);
        Assert.Matches(@"\[\d+/\d+\] general-s1 general stage: step 2/4 loss [\d.]+, stage left [\d:?]+, experiment left", stderr);

        // the plan shared one general stage per seed between lora-nu-mu and alora, and the phi sweep's phi = 100 point is the main alora run
        var runs = Directory.GetDirectories(Path.Combine(outDir, "runs")).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(
            [
                "alora-quiz-s1",
                "alora-quiz-s1-phi1",
                "alora-quiz-s2",
                "alora-quiz-s2-phi1",
                "general-s1",
                "general-s2",
                "lora-nu-mu-quiz-s1",
                "lora-nu-mu-quiz-s2",
            ],
            runs
        );
        foreach (var run in runs)
        {
            var result = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "runs", run!, "result.json")))!;
            Assert.NotNull(result["config"]);
            Assert.True(result["costs"]!["train_seconds"]!.GetValue<double>() > 0, run);
            Assert.True(result["costs"]!["peak_memory_bytes"]!.GetValue<long>() > 0, run);
            if (run!.StartsWith("general", StringComparison.Ordinal))
            {
                Assert.True(result["costs"]!["omega_bytes"]!.GetValue<long>() > 0);
                Assert.True(result["costs"]!["si_record_seconds"]!.GetValue<double>() > 0);
                Assert.Equal(4, result["importance_norms"]!.AsObject().Count);
            }
            else
            {
                Assert.Equal(4, result["metrics"]!["steps"]!.GetValue<int>());
                Assert.True(double.IsFinite(result["eval"]!["general_ppl"]!.GetValue<double>()));
            }
        }

        // results.csv: one row per method x seed x task, plus the sweep's rows
        var csv = ExperimentResults.ReadCsv(Path.Combine(outDir, "results.csv"));
        var header = File.ReadLines(Path.Combine(outDir, "results.csv")).First().Split(',');
        foreach (var col in new[] { "method", "seed", "task", "general_ppl", "acc", "acc_norm", "train_seconds" })
            Assert.Contains(col, header);
        var main = csv.Where(r => r.Sweep is null).ToList();
        Assert.Equal(4, main.Count);
        Assert.Equal(["alora", "lora-nu-mu"], main.Select(r => r.Method).Distinct().Order());
        Assert.All(main, r => Assert.True(r.GeneralPpl > 1 && r.Acc is >= 0 and <= 1 && r.AccNorm is >= 0 and <= 1 && r.TrainSeconds > 0, r.Run));
        Assert.All(main, r => Assert.True(r.GeneralStageSeconds > 0 && r.SiRecordSeconds > 0 && r.OmegaBytes > 0, r.Run));
        var sweep = csv.Where(r => r.Sweep == "phi").ToList();
        Assert.Equal([1.0, 100.0], sweep.Select(r => r.SweepValue!.Value).Distinct().Order());
        Assert.Equal(4, sweep.Count);

        // report.md: every section, every figure it links, each a real picture
        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        foreach (
            var section in new[]
            {
                "## Results",
                "## Ablation",
                "## Ours against each baseline",
                "## Domain-stage loss",
                "## Importance",
                "## Layer weights used",
                "## Sweeps",
                "## Cost",
            }
        )
            Assert.Contains(section, report);
        Assert.Contains("| LoRA(ν+μ) | general PPL |", report);
        Assert.Contains("Welch t", report);
        var linked = Regex.Matches(report, @"\]\(figures/([^)]+\.png)\)").Select(m => m.Groups[1].Value).ToList();
        var onDisk = Directory.GetFiles(Path.Combine(outDir, "figures"), "*.png").Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.Equal(onDisk, linked.Order().ToList());
        Assert.Equal(
            [
                "cost-memory.png",
                "cost-seconds.png",
                "frontier-quiz.png",
                "importance-heatmap.png",
                "layer-weights.png",
                "loss-methods-quiz.png",
                "loss-quiz.png",
                "quiz-acc.png",
                "quiz-general-ppl.png",
                "sweep-phi-quiz.png",
            ],
            onDisk
        );
        foreach (var png in onDisk)
            AssertPicture(Path.Combine(outDir, "figures", png));

        // 2. a rerun: nothing trained or evaluated, run folders untouched, the same table
        var stamps = runs.ToDictionary(r => r!, r => File.GetLastWriteTimeUtc(Path.Combine(outDir, "runs", r!, "summary.json")));
        var csvText = File.ReadAllText(Path.Combine(outDir, "results.csv"));
        var config = ExperimentConfig.Load(yaml);
        clock.Restart();
        var again = Experiment.Run(config, outDir);
        output.WriteLine($"rerun: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal((0, 0, 0, 0), (again.Trained, again.Resumed, again.Evaluated, again.FisherPasses));
        Assert.Equal(8, again.Skipped);
        foreach (var (r, t) in stamps)
            Assert.Equal(t, File.GetLastWriteTimeUtc(Path.Combine(outDir, "runs", r, "summary.json")));
        Assert.Equal(csvText, File.ReadAllText(Path.Combine(outDir, "results.csv")));

        // 3. alora alone (its general stage is the same computation), interrupted twice mid-stage (after a checkpoint at step 2) and rerun
        var yaml2 = WriteExperiment(tmp.Path, "[alora]");
        var config2 = ExperimentConfig.Load(yaml2);
        var interrupted = tmp.File("interrupted");
        clock.Restart();
        foreach (var stopIn in new[] { "general-s1", "alora-quiz-s2" })
        {
            using var cts = new CancellationTokenSource();
            var progress = new Inline(e =>
            {
                if (e.Run == stopIn && e.Event == ProgressEvent.Step && e.Step == 3 && !e.Stage.StartsWith("eval", StringComparison.Ordinal))
                    cts.Cancel();
            });
            Assert.ThrowsAny<OperationCanceledException>(() =>
                Experiment.Run(config2, interrupted, new ExperimentRunOptions { Progress = progress, Cancel = cts.Token })
            );
            Assert.False(File.Exists(Path.Combine(interrupted, "runs", stopIn, "summary.json")));
            Assert.True(Directory.Exists(Path.Combine(interrupted, "runs", stopIn, "checkpoints", "step-0000002")));
        }
        var resumed = Experiment.Run(config2, interrupted);
        output.WriteLine($"interrupted twice and resumed: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(1, resumed.Resumed); // alora-quiz-s2 continued from its step-2 checkpoint
        Assert.Equal(4, resumed.Jobs);
        var expected = main.ToDictionary(r => r.Run);
        Assert.Equal(["alora-quiz-s1", "alora-quiz-s2"], resumed.Rows.Select(r => r.Run));
        foreach (var r in resumed.Rows)
        {
            var u = expected[r.Run];
            Assert.Equal(u.GeneralPpl, r.GeneralPpl, 9);
            Assert.Equal(u.Acc, r.Acc);
            Assert.Equal(u.AccNorm, r.AccNorm);
            Assert.Equal(u.FinalTaskLoss!.Value, r.FinalTaskLoss!.Value, 9);
            if (u.FinalPenalty is { } p)
                Assert.Equal(p, r.FinalPenalty!.Value, 12);
            // the metrics of the interrupted runs have each step once, as uninterrupted
            var steps = File.ReadLines(Path.Combine(interrupted, "runs", r.Run, "metrics.jsonl"))
                .Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>())
                .ToList();
            Assert.Equal([1, 2, 3, 4], steps);
        }
        var general = File.ReadLines(Path.Combine(interrupted, "runs", "general-s1", "metrics.jsonl"))
            .Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>())
            .ToList();
        Assert.Equal([1, 2, 3, 4], general);
    }

    [FixtureFact]
    public void EwcLoraRunsAfterItsFisherPassAndTheReportComparesItsCost()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[ewc-lora]", "fisher:\n  per-seed: false\n  samples: 4\n");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("seeds: [1, 2]", "seeds: [1]", StringComparison.Ordinal));
        var outcome = Experiment.Run(ExperimentConfig.Load(yaml), tmp.File("out"));
        Assert.Equal((2, 1, 1), (outcome.Jobs, outcome.Trained, outcome.FisherPasses));
        var fisher = JsonNode.Parse(File.ReadAllText(tmp.File("out/runs/fisher/fisher.json")))!;
        Assert.Equal(4, fisher["samples"]!.GetValue<int>());
        Assert.True(File.Exists(tmp.File("out/runs/fisher/fisher.safetensors")));
        var row = Assert.Single(outcome.Rows);
        Assert.True(row.FisherSeconds > 0 && row.FisherBytes > 0 && row.EwcLambda == 1, $"{row}");
        Assert.True(row.FinalPenalty >= 0);
        var report = File.ReadAllText(outcome.Report);
        Assert.Contains("| EWC Fisher pass |", report);
        foreach (var png in new[] { "cost-seconds.png", "loss-quiz.png", "quiz-general-ppl.png" })
            AssertPicture(tmp.File("out/figures/" + png));
    }

    /// <summary>The PNG decodes, has the figure's size, and is a picture: many colours and some clearly coloured (data) pixels.</summary>
    static void AssertPicture(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width >= 800 && bitmap.Height == 500, $"{path}: {bitmap.Width}x{bitmap.Height}");
        var pixels = bitmap.Pixels;
        Assert.True(pixels.Select(c => (uint)c).Distinct().Count() > 50, $"{path} looks blank");
        int coloured = pixels.Count(c => Math.Max(c.Red, Math.Max(c.Green, c.Blue)) - Math.Min(c.Red, Math.Min(c.Green, c.Blue)) > 60);
        Assert.True(coloured > 0.001 * pixels.Length, $"{path}: only {coloured} coloured pixels");
    }

    sealed class Inline(Action<ExperimentProgress> report) : IProgress<ExperimentProgress>
    {
        public void Report(ExperimentProgress value) => report(value);
    }

    /// <summary>
    /// A launcher for <see cref="ExperimentRunOptions.LaunchJob"/> that runs the job in this process
    /// (<see cref="ExperimentRunOptions.OnlyJob"/>), one at a time (torch's generator is one per process), recording
    /// when each job was handed over and when it ended; <paramref name="fail"/> fails instead.
    /// </summary>
    sealed class InProcessLauncher(ExperimentConfig config, string outDir, string? fail = null)
    {
        readonly SemaphoreSlim _one = new(1);
        readonly object _gate = new();
        int _active;
        public List<(string Event, string Job)> Log { get; } = [];
        public int MaxActive { get; private set; }

        public async Task Launch(string job, CancellationToken cancel)
        {
            lock (_gate)
            {
                Log.Add(("launch", job));
                MaxActive = Math.Max(MaxActive, ++_active);
            }
            try
            {
                await _one.WaitAsync(cancel);
                try
                {
                    if (job == fail)
                        throw new AloraException($"its worker exited with code 1; log: {job}.log");
                    // on a thread of its own: a job run on a pool thread would hold it, and with the test's thread the
                    // pool of a 2-core machine may have none left to start the second launch until the first job ends
                    await Task.Factory.StartNew(
                        () => Experiment.Run(config, outDir, new ExperimentRunOptions { OnlyJob = job, Cancel = cancel }),
                        cancel,
                        TaskCreationOptions.LongRunning,
                        TaskScheduler.Default
                    );
                }
                finally
                {
                    _one.Release();
                }
            }
            finally
            {
                lock (_gate)
                {
                    Log.Add(("finish", job));
                    _active--;
                }
            }
        }
    }

    /// <summary>Both runs have the same rows with the same numbers (the seconds aside).</summary>
    static void AssertSameResults(IReadOnlyList<ResultRow> expected, IReadOnlyList<ResultRow> actual)
    {
        Assert.Equal(expected.Select(r => (r.Run, r.Method, r.Seed)), actual.Select(r => (r.Run, r.Method, r.Seed)));
        foreach (var (u, r) in expected.Zip(actual))
        {
            Assert.Equal(u.GeneralPpl, r.GeneralPpl, 9);
            Assert.Equal(u.Acc, r.Acc);
            Assert.Equal(u.AccNorm, r.AccNorm);
            Assert.Equal(u.FinalTaskLoss!.Value, r.FinalTaskLoss!.Value, 9);
            Assert.Equal(u.FinalPenalty, r.FinalPenalty);
        }
    }

    [FixtureFact]
    public void WithTwoWorkersJobsStartAfterWhatTheyRead_AndTheResultsAreTheSequentialOnes()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[lora-nu-mu, alora, ewc-lora]", "fisher:\n  per-seed: false\n  samples: 4\n");
        var config = ExperimentConfig.Load(yaml);
        var clock = Stopwatch.StartNew();
        var sequential = Experiment.Run(config, tmp.File("sequential"));
        output.WriteLine($"sequential: {clock.Elapsed.TotalSeconds:F1} s");

        var outDir = tmp.File("workers");
        var launcher = new InProcessLauncher(config, outDir);
        var events = new List<ExperimentProgress>();
        var options = new ExperimentRunOptions
        {
            Workers = 2,
            LaunchJob = launcher.Launch,
            Progress = new Inline(events.Add),
        };
        clock.Restart();
        var parallel = Experiment.Run(config, outDir, options);
        output.WriteLine($"two workers (in-process, one at a time): {clock.Elapsed.TotalSeconds:F1} s");

        AssertSameResults(sequential.Rows, parallel.Rows);
        Assert.Equal(
            (sequential.Trained, sequential.Resumed, sequential.Skipped, sequential.Evaluated, sequential.FisherPasses),
            (parallel.Trained, parallel.Resumed, parallel.Skipped, parallel.Evaluated, parallel.FisherPasses)
        );
        Assert.Equal((8, 6, 1), (parallel.Trained, parallel.Evaluated, parallel.FisherPasses));
        // every job handed over once, after the jobs it reads had finished; two at a time at most, and two at some point
        var plan = ExperimentPlanner.Plan(config, outDir);
        Assert.Equal(plan.Jobs.Select(j => j.Name).Order(), launcher.Log.Where(e => e.Event == "launch").Select(e => e.Job).Order());
        foreach (var job in plan.Jobs)
        {
            int launched = launcher.Log.IndexOf(("launch", job.Name));
            Assert.All(job.DependsOn, d => Assert.True(launcher.Log.IndexOf(("finish", d)) < launched, $"{job.Name} started before {d} finished"));
        }
        Assert.Equal(2, launcher.MaxActive);
        // the parent reports each job's start and end; the workers' steps stay in the workers
        foreach (var job in plan.Jobs)
            Assert.Equal([ProgressEvent.Started, ProgressEvent.Finished], events.Where(e => e.Run == job.Name).Select(e => e.Event));
        Assert.Equal(plan.Jobs.Count, events[^1].JobsDone);
        Assert.Equal(
            File.ReadAllText(Path.Combine(tmp.File("sequential"), "results.csv")).Split('\n').Length,
            File.ReadAllText(parallel.ResultsCsv).Split('\n').Length
        );
        Assert.True(File.Exists(parallel.Report));

        // a rerun hands nothing over
        var again = Experiment.Run(
            config,
            outDir,
            options with
            {
                Progress = null,
                LaunchJob = (job, _) => throw new InvalidOperationException("launched " + job),
            }
        );
        Assert.Equal((0, 0, 0, 0, 9), (again.Trained, again.Resumed, again.Evaluated, again.FisherPasses, again.Skipped));
    }

    [FixtureFact]
    public void AFailedWorkerStopsTheExperimentNamingItsJob_TheOtherJobsAreKeptForTheRerun()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[lora-mu, alora]");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("seeds: [1, 2]", "seeds: [1]", StringComparison.Ordinal));
        var config = ExperimentConfig.Load(yaml);
        var outDir = tmp.File("out");
        var failing = new InProcessLauncher(config, outDir, fail: "alora-quiz-s1");
        var e = Assert.Throws<AloraException>(() =>
            Experiment.Run(config, outDir, new ExperimentRunOptions { Workers = 2, LaunchJob = failing.Launch })
        );
        Assert.StartsWith("alora-quiz-s1 failed: its worker exited with code 1; log: alora-quiz-s1.log", e.Message);
        Assert.False(File.Exists(Path.Combine(outDir, "results.csv")));
        // lora-mu ran beside general-s1 and alora; both finished and are kept
        foreach (var run in new[] { "lora-mu-quiz-s1", "general-s1" })
            Assert.True(File.Exists(Path.Combine(outDir, "runs", run, "summary.json")), run);
        Assert.True(File.Exists(Path.Combine(outDir, "runs", "lora-mu-quiz-s1", "eval.json")));

        var rerun = new InProcessLauncher(config, outDir);
        var outcome = Experiment.Run(config, outDir, new ExperimentRunOptions { Workers = 2, LaunchJob = rerun.Launch });
        Assert.Equal([("launch", "alora-quiz-s1"), ("finish", "alora-quiz-s1")], rerun.Log);
        Assert.Equal((1, 2, 1), (outcome.Trained, outcome.Skipped, outcome.Evaluated));
        Assert.Equal(["lora-mu", "alora"], outcome.Rows.Select(r => r.Method));
    }

    [FixtureFact]
    public void AWorkersJobMustBeInThePlanAndComeAfterWhatItReads()
    {
        using var tmp = new TempDir();
        var config = ExperimentConfig.Load(WriteExperiment(tmp.Path));
        var e = Assert.Throws<AloraException>(() => Experiment.Run(config, tmp.File("out"), new ExperimentRunOptions { OnlyJob = "alora-quiz-s3" }));
        Assert.Contains("no job 'alora-quiz-s3' in the plan of", e.Message);
        e = Assert.Throws<AloraException>(() => Experiment.Run(config, tmp.File("out"), new ExperimentRunOptions { OnlyJob = "alora-quiz-s1" }));
        Assert.Equal("alora-quiz-s1 needs general-s1 finished first", e.Message);
    }

    [FixtureFact]
    public void TheCommandWithTwoWorkersRunsEachJobInAChildProcess_AndGetsTheSequentialResults()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[lora-mu, alora]");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("seeds: [1, 2]", "seeds: [1]", StringComparison.Ordinal));
        var sequential = Experiment.Run(ExperimentConfig.Load(yaml), tmp.File("sequential"));

        var outDir = tmp.File("workers");
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = CliRunner.Run("experiment", "--config", yaml, "--out", outDir, "--workers", "2");
        output.WriteLine($"alora experiment --workers 2: {clock.Elapsed.TotalSeconds:F1} s\n{stderr}");
        Assert.True(code == 0, stderr);
        Assert.Contains("jobs: 3  trained: 3  resumed: 0  already finished: 0  evaluations: 2", stdout);
        Assert.Matches(@"\[1/3\] lora-mu-quiz-s1 domain stage \+ eval: done in [\d.]+ s", stderr);
        AssertSameResults(sequential.Rows, ExperimentResults.ReadCsv(Path.Combine(outDir, "results.csv")));
        // each worker's output is in its run folder: one torch thread, its own progress lines
        var log = File.ReadAllText(Path.Combine(outDir, "runs", "alora-quiz-s1", Experiment.WorkerLog));
        Assert.Contains("--job alora-quiz-s1 --threads 1", log);
        Assert.Contains("alora-quiz-s1 domain stage: step 4/4", log);
    }

    [FixtureFact]
    public void ThePlanSharesTheGeneralStageAndTheFisherAcrossMethods()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(
            tmp.Path,
            "[base, lora-mu, lora-nu-mu, rslora, ewc-lora, alora-no-layer, alora]",
            "fisher:\n  per-seed: false\n  samples: 8\nsweeps:\n  xi: [0.01]\n  rank: [2, 4]\n"
        );
        var plan = ExperimentPlanner.Plan(ExperimentConfig.Load(yaml), tmp.File("out"));
        string Kinds(JobKind k) => string.Join(" ", plan.Jobs.Where(j => j.Kind == k).Select(j => j.Name));
        // one general stage per seed serves lora-nu-mu, alora-no-layer and alora; the xi sweep needs its own (Omega depends on xi),
        // rank 4 is the configured rank (the main run), rank 2 its own; one Fisher for both seeds; base once
        Assert.Equal("general-s1 general-s1-xi0.01 general-s1-r2 general-s2 general-s2-xi0.01 general-s2-r2", Kinds(JobKind.General));
        Assert.Equal("fisher", Kinds(JobKind.Fisher));
        Assert.Equal("base", Kinds(JobKind.Base));
        foreach (var m in new[] { "lora-nu-mu", "alora-no-layer", "alora" })
            Assert.Equal(["general-s1"], plan.Job($"{m}-quiz-s1").DependsOn);
        Assert.Empty(plan.Job("lora-mu-quiz-s1").DependsOn);
        Assert.Null(plan.Job("lora-mu-quiz-s1").Train!.InitAdapter);
        Assert.Equal(["fisher"], plan.Job("ewc-lora-quiz-s2").DependsOn);
        Assert.Equal(FinetuneMethod.Rslora, plan.Job("rslora-quiz-s1").Train!.Method);
        Assert.Equal(FinetuneMethod.Lora, plan.Job("lora-nu-mu-quiz-s1").Train!.Method);
        Assert.Equal(100, plan.Job("alora-quiz-s1").Train!.Phi);
        Assert.Equal(2, plan.Job("general-s1-r2").Train!.Rank);
        Assert.Equal(0.01, plan.Job("general-s1-xi0.01").Train!.Xi);
        // every job comes after the jobs it reads
        var seen = new HashSet<string>();
        foreach (var j in plan.Jobs)
        {
            Assert.All(j.DependsOn, d => Assert.Contains(d, seen));
            seen.Add(j.Name);
        }
        // rows: 7 methods x 2 seeds, plus xi (2 values) and rank (2 values) for each seed
        Assert.Equal(14 + 2 * 2 + 2 * 2, plan.Entries.Count);
        Assert.Equal(plan.Job("alora-quiz-s1").Name, plan.Entries.Single(e => e.Sweep == "rank" && e.SweepValue == 4 && e.Seed == 1).Run);
    }

    [Fact]
    public void TheShippedExampleConfigurationBinds()
    {
        var path = Path.Combine(Fixtures.RepoRoot, "examples", "experiment.yaml");
        var c = ExperimentConfig.Bind((JsonObject)YamlJson.Load(path)!, path);
        Assert.Equal(ExperimentMethods.All, c.Methods);
        Assert.Equal([1L, 2L, 3L], c.Seeds);
        Assert.Equal("medmcqa", c.Domain[0].Task);
        Assert.Equal(Path.GetFullPath(Path.Combine(Fixtures.RepoRoot, "data", "medmcqa", "train.jsonl")), c.Domain[0].Train);
        var alora = ExperimentPlanner.TrainOptions(c, "alora", Stage.Domain, []);
        Assert.Equal((10.0, 8, 32.0, 8e-4, 20), (alora.Phi, alora.Rank, alora.Alpha, alora.Lr, alora.BatchSize));
        Assert.Equal(1e5, ExperimentPlanner.TrainOptions(c, "ewc-lora", Stage.Domain, []).EwcLambda);
        Assert.Equal(0.5, ExperimentPlanner.AdapterScale(c, "lora-scaled"));
        Assert.Equal(1e5, ExperimentPlanner.TrainOptions(c, "ewc-nu", Stage.Domain, []).EwcLambda);
        Assert.Equal([1.0, 100.0], c.Sweeps.Phi);
        Assert.Equal(0.25, ExperimentPlanner.TrainOptions(c, "replay", Stage.Domain, []).ReplayFraction);
    }

    /// <summary>Replay's domain stage reads the general text itself: the plan gives it general.train as general-data, and no other method.</summary>
    [Fact]
    public void ThePlanGivesReplaysDomainStageTheGeneralText()
    {
        using var tmp = new TempDir();
        var path = Path.Combine(Fixtures.RepoRoot, "examples", "experiment.yaml");
        var c = ExperimentConfig.Bind((JsonObject)YamlJson.Load(path)!, path) with
        {
            Methods = ["lora-mu", "lora-nu-mu", "replay", "alora"],
            Sweeps = new(),
        };
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        foreach (var seed in c.Seeds)
        {
            var replay = plan.Job($"replay-medmcqa-s{seed}");
            Assert.Equal(c.General.Train, replay.Train!.GeneralData);
            Assert.Equal((FinetuneMethod.Replay, Stage.Domain, 0.25), (replay.Train.Method, replay.Train.Stage, replay.Train.ReplayFraction));
            Assert.Empty(replay.DependsOn); // a fresh adapter: no general stage, no Fisher
            Assert.Null(replay.Train.InitAdapter);
            Assert.Equal(5, replay.Train.ReplayPerStep);
            Assert.Equal(c.General.Train, replay.Identity["options"]!["general-data"]!.GetValue<string>()); // a run of other general text is another run
            foreach (var other in new[] { "lora-mu", "lora-nu-mu", "alora" })
                Assert.Null(plan.Job($"{other}-medmcqa-s{seed}").Train!.GeneralData);
        }
        Assert.Equal(0.25, ExperimentMethods.Settings("replay", plan.Job("replay-medmcqa-s1").Train, null).ReplayFraction);
        Assert.Null(ExperimentMethods.Settings("alora", plan.Job("alora-medmcqa-s1").Train, null).ReplayFraction);
    }

    [FixtureTheory]
    [InlineData("general:\n  trian: x.txt\n", "unknown key 'general.trian'")]
    [InlineData("methods: [lora, alora]\n", "unknown method 'lora'")]
    [InlineData("train:\n  seed: 3\n", "train.seed: 'seed' is set by the experiment")]
    [InlineData("overrides:\n  alora: {phii: 1}\n", "unknown key 'overrides.alora.phii'")]
    [InlineData("train:\n  max-steps: many\n", "'max-steps' has the wrong type")]
    [InlineData("train:\n  general-data: x.txt\n", "train.general-data: 'general-data' is set by the experiment")]
    [InlineData(
        "overrides:\n  alora: {phi: 1, layer-weights: onehot}\n",
        "the settings of alora (train, domain-stage, overrides.alora): 'layer-weights': 'onehot' is not one of softmax, softmax-normalized, softmax-log, uniform"
    )]
    [InlineData("domain:\n  - {name: quiz, task: mcq, train: quiz-train.jsonl, test: missing.jsonl}\n", "missing.jsonl not found")]
    public void ConfigurationErrorsNameTheFileAndTheKey(string change, string message)
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path);
        // replace the top-level key the change gives (or add it)
        var key = change[..change.IndexOf(':', StringComparison.Ordinal)];
        var text = File.ReadAllText(yaml);
        var kept = Regex.Replace(text, $@"(?ms)^{Regex.Escape(key)}:.*?(?=^\S|\z)", "");
        File.WriteAllText(yaml, kept + change);
        var (code, _, err) = CliRunner.Run("experiment", "--config", yaml, "--out", tmp.File("out"));
        Assert.Equal(1, code);
        Assert.Contains(yaml, err);
        Assert.Contains(message, err);
        Assert.False(Directory.Exists(tmp.File("out")));
    }

    [FixtureFact]
    public void ARunFolderOfAnotherConfigurationIsRefused()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[lora-mu]");
        var c = ExperimentConfig.Load(yaml);
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        var job = plan.Jobs[0];
        Directory.CreateDirectory(plan.RunDir(job.Name));
        var other = job.Identity.DeepClone().AsObject();
        other["options"]!["lr"] = 0.5;
        File.WriteAllText(Path.Combine(plan.RunDir(job.Name), "job.json"), other.ToJsonString());
        var e = Assert.Throws<AloraException>(() => Experiment.Run(c, tmp.File("out")));
        Assert.Contains("another configuration (differs in options.lr)", e.Message);
        Assert.False(File.Exists(Path.Combine(plan.RunDir(job.Name), "metrics.jsonl")));
    }
}
