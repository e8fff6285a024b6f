using System.Diagnostics;
using Alora.Data;
using Alora.Lora;
using Alora.Models;
using Alora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Training;

/// <summary>
/// The training loop: mini-batches of <see cref="TrainConfig.BatchSize"/> sequences accumulated over
/// micro-batches, cross-entropy averaged over the step's target tokens, hook penalties, gradient
/// clipping, AdamW or SGD with a warm-up/decay schedule, metrics per step as JSON Lines, and
/// resumable checkpoints (trainable weights, optimizer state, hook state, RNG state). The batches
/// (<see cref="BatchSchedule"/>: the data, or with replay the data and general text mixed) are a pure
/// function of (seed, step), so a resumed run sees the same batches.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly CausalLM _model;
    readonly IReadOnlyList<TrainingExample> _data; // the data, then the replayed general text: what batch indices point into
    readonly BatchSchedule _schedule;
    readonly TrainConfig _cfg;
    readonly string? _runDir;
    readonly IReadOnlyList<ITrainingHook> _hooks;
    readonly List<(string Name, Parameter Param)> _trainable;
    readonly Optimizer _optimizer;
    readonly StepContext _ctx;
    readonly Device _device;

    public long StepsPerEpoch { get; }
    public long TotalSteps { get; }
    public long Step { get; private set; }
    public IReadOnlyList<StepMetrics> History => _history;
    readonly List<StepMetrics> _history = [];
    double _elapsedBefore;

    // the step of the last checkpoint written or restored (-1: none), so that a stop does not write it twice
    long _savedStep = -1;
    TensorBoardLog? _tensorBoard;

    public Trainer(
        CausalLM model,
        IReadOnlyList<AdaptedModule> adapters,
        IReadOnlyList<TrainingExample> data,
        TrainConfig config,
        string? runDir = null,
        IReadOnlyList<ITrainingHook>? hooks = null,
        IReadOnlyList<TrainingExample>? replay = null
    )
        : this(
            model,
            adapters,
            adapters
                .SelectMany(a => new[] { (a.Path + ".lora_A.weight", a.Layer.lora_A.weight), (a.Path + ".lora_B.weight", a.Layer.lora_B.weight) })
                .ToList(),
            data,
            config,
            runDir,
            hooks,
            replay
        ) { }

    /// <summary>
    /// Trains the given parameters (all of a model for pretraining, or the LoRA factors) on <paramref name="data"/>, with
    /// <see cref="TrainConfig.ReplayPerStep"/> sequences of each batch drawn from <paramref name="replay"/>.
    /// </summary>
    public Trainer(
        CausalLM model,
        IReadOnlyList<AdaptedModule> adapters,
        List<(string Name, Parameter Param)> trainable,
        IReadOnlyList<TrainingExample> data,
        TrainConfig config,
        string? runDir = null,
        IReadOnlyList<ITrainingHook>? hooks = null,
        IReadOnlyList<TrainingExample>? replay = null
    )
    {
        config.Validate();
        if (data.Count == 0)
            throw new AloraException("the training data is empty");
        if (data.All(d => d.TargetCount == 0))
            throw new AloraException("the training data has no target token");
        _model = model;
        _schedule = new BatchSchedule(data.Count, replay?.Count ?? 0, config.BatchSize, config.ReplayPerStep, config.Seed);
        _data = config.ReplayPerStep > 0 ? [.. data, .. replay!] : data;
        _cfg = config;
        _runDir = runDir;
        _hooks = hooks ?? [];
        if (trainable.Count == 0)
            throw new AloraException("nothing to train: no trainable parameter");
        _trainable = trainable;
        foreach (var (_, p) in _trainable)
            p.requires_grad = true;
        _device = _trainable[0].Param.device;
        _optimizer =
            config.Optimizer == OptimizerKind.Sgd
                ? new Sgd(_trainable)
                : new AdamW(_trainable, config.Beta1, config.Beta2, config.Eps, config.WeightDecay);
        _ctx = new StepContext { Adapters = adapters };
        StepsPerEpoch = _schedule.StepsPerEpoch;
        TotalSteps = config.MaxSteps ?? config.Epochs * StepsPerEpoch;
    }

    long WarmupSteps => _cfg.WarmupSteps ?? (long)Math.Round(_cfg.WarmupRatio * TotalSteps);

    /// <summary>Runs until TotalSteps (or <paramref name="stopAfter"/> steps, which tests use to simulate a kill).</summary>
    /// <exception cref="AloraException">
    /// At the first step whose loss, penalty, gradient norm or updated parameters are not finite: that step's metrics
    /// are written, the parameters are not saved, and the last checkpoint stays as it was.
    /// </exception>
    public IReadOnlyList<StepMetrics> Train(IProgress<TrainProgress>? progress = null, long? stopAfter = null, CancellationToken cancel = default)
    {
        _model.train();
        // the event files start from what metrics.jsonl holds now (after a resume's cut, or nothing when fresh)
        if (_cfg.TensorBoard && _runDir is not null)
            _tensorBoard ??= TensorBoardLog.Start(_runDir, _elapsedBefore);
        var clock = Stopwatch.StartNew();
        long end = Math.Min(TotalSteps, stopAfter ?? long.MaxValue);
        while (Step < end)
        {
            if (cancel.IsCancellationRequested)
            {
                // a stop asked for between steps (Ctrl+C, or SIGTERM at a Slurm time limit) keeps the steps done since
                // the last checkpoint: a checkpoint at any step resumes exactly as one at a multiple of checkpoint-every
                if (_runDir is not null && Step > 0 && Step != _savedStep)
                    SaveCheckpoint(_elapsedBefore + clock.Elapsed.TotalSeconds);
                cancel.ThrowIfCancellationRequested();
            }
            var stepClock = Stopwatch.StartNew();
            var (m, fault) = TrainStep(Step, stepClock, _elapsedBefore + clock.Elapsed.TotalSeconds);
            if (_runDir is not null)
            {
                var line = MetricsLog.Append(_runDir, m);
                _tensorBoard?.Write(line);
            }
            if (fault is not null)
                throw Divergence.Error(m.Step, fault, _runDir);
            _history.Add(m);
            Step++;
            progress?.Report(new TrainProgress(Step, TotalSteps, m.Loss, m.TokensPerSecond));
            bool last = Step == TotalSteps;
            if (_runDir is not null && (last || (_cfg.CheckpointEvery > 0 && Step % _cfg.CheckpointEvery == 0)))
                SaveCheckpoint(_elapsedBefore + clock.Elapsed.TotalSeconds);
        }
        _elapsedBefore += clock.Elapsed.TotalSeconds;
        _model.eval();
        return _history;
    }

    /// <summary>One optimizer step; the fault names the first non-finite quantity, after which nothing more of the step runs.</summary>
    (StepMetrics Metrics, string? Fault) TrainStep(long step, Stopwatch stepClock, double elapsed)
    {
        using var scope = NewDisposeScope();
        double lr = LearningRate.At(step, TotalSteps, _cfg.Lr, WarmupSteps, _cfg.Schedule);
        var groups = LossGroups(step);
        long targets = groups.Sum(g => g.Targets),
            tokens = groups.Sum(g => g.Indices.Sum(i => (long)_data[i].Ids.Length));
        _optimizer.ZeroGrad();
        double taskLoss = 0,
            gradNorm = double.NaN;
        foreach (var (indices, groupTargets, divisor) in groups)
        {
            double ceSum = 0;
            foreach (var micro in indices.Chunk(_cfg.MicroBatchSize))
            {
                using var microScope = NewDisposeScope();
                var (input, labels) = Collate(micro);
                ceSum += ChunkedCrossEntropyBackward(input, labels, divisor);
            }
            taskLoss += ceSum / divisor;
        }
        var penalties = new Dictionary<string, double>();
        StepMetrics Metrics() =>
            new(
                step + 1,
                (double)(step + 1) / StepsPerEpoch,
                taskLoss + penalties.Values.Sum(),
                taskLoss,
                penalties,
                lr,
                gradNorm,
                targets,
                tokens,
                tokens / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds),
                elapsed + stepClock.Elapsed.TotalSeconds
            );
        if (!double.IsFinite(taskLoss))
            return (Metrics(), $"the loss is {taskLoss}");
        _ctx.Step = step;
        _ctx.Lr = lr;
        _ctx.Tokens = targets;
        _ctx.TaskLoss = taskLoss;
        foreach (var h in _hooks)
            h.OnTaskGradients(_ctx);
        foreach (var h in _hooks)
        {
            if (h.Penalty(_ctx) is not { } p)
                continue;
            double v = penalties[h.Name] = p.item<float>();
            if (!double.IsFinite(v))
                return (Metrics(), $"the {h.Name} penalty is {v}");
            p.backward();
        }
        gradNorm = ClipGradients();
        if (!double.IsFinite(gradNorm))
            return (Metrics(), $"the gradient norm is {gradNorm}");
        if (_optimizer.Unrepresentable(lr) is { } overflow)
            return (Metrics(), overflow);
        foreach (var h in _hooks)
            h.BeforeOptimizerStep(_ctx);
        _optimizer.Step(lr);
        if (Divergence.FirstNonFiniteParameter(_trainable) is { } name)
            return (Metrics(), $"the update made {name} non-finite");
        foreach (var h in _hooks)
            h.AfterOptimizerStep(_ctx);
        return (Metrics(), null);
    }

    /// <summary>
    /// The step's sequences in groups that the loss weighs separately, each with its target count T_g and the divisor
    /// of its summed cross-entropy. Plain training is one group, the batch, divided by T: the mean over the batch's
    /// target tokens. With replay the domain and the general sequences are two groups, each group's mean over its own
    /// target tokens weighted by its share of the batch's sequences, L = (n_d/B) CE_d/T_d + (k/B) CE_g/T_g (divisor
    /// T_g B/n_g): a packed general sequence has some 25 times the targets of a domain answer, and with one mean over
    /// all tokens two replayed sequences outweighed fourteen domain ones, so the fraction did not say what it weighs.
    /// </summary>
    List<(int[] Indices, long Targets, double Divisor)> LossGroups(long step)
    {
        var (domain, general) = _schedule.At(step);
        int[][] parts = general.Length == 0 ? [domain] : [domain, [.. general.Select(i => _schedule.DomainCount + i)]];
        var withTargets = parts.Select(p => (Indices: p, Targets: p.Sum(i => (long)_data[i].TargetCount))).Where(p => p.Targets > 0).ToList();
        if (withTargets.Count == 0)
            return [(domain, 0, 1)];
        int sequences = withTargets.Sum(p => p.Indices.Length);
        return withTargets.Count == 1
            ? [(withTargets[0].Indices, withTargets[0].Targets, withTargets[0].Targets)]
            : [.. withTargets.Select(p => (p.Indices, p.Targets, (double)p.Targets * sequences / p.Indices.Length))];
    }

    /// <summary>
    /// Cross-entropy summed over target positions, with its gradient (scaled by 1/normaliser)
    /// accumulated: the body runs once, the output projection and loss run on row chunks of the
    /// detached hidden states, whose gradient is then sent back through the body. Only one chunk of
    /// logits ([rows, V]) is alive at a time instead of [b, L, V]. Labels are already shifted.
    /// </summary>
    double ChunkedCrossEntropyBackward(Tensor input, Tensor labels, double normaliser)
    {
        var hidden = _model.Hidden(input); // [b,L,C]
        var detached = hidden.detach().requires_grad_(true);
        var flat = detached.view(-1, hidden.shape[2]); // [b*L,C]
        var flatLabels = labels.view(-1); // [b*L]
        double sum = 0;
        long rows = flat.shape[0];
        for (long r = 0; r < rows; r += _model.HeadChunkRows)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(_model.HeadChunkRows, rows - r);
            var logits = _model.Head(flat.narrow(0, r, n)); // [n,V]
            var ce = nn.functional.cross_entropy(logits, flatLabels.narrow(0, r, n), ignore_index: -100, reduction: nn.Reduction.Sum);
            ce.DividedBy(normaliser).backward();
            sum += ce.item<float>();
        }
        if (hidden.requires_grad && detached.grad is { } g)
            hidden.backward([g]);
        return sum;
    }

    /// <summary>Global L2 norm of the trainable gradients, scaled down to MaxGradNorm as torch's clip_grad_norm_.</summary>
    double ClipGradients()
    {
        using var scope = NewDisposeScope();
        var grads = _trainable.Select(t => t.Param.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0)
            return 0;
        var norm = stack(grads.Select(g => g.norm()).ToArray()).norm().item<float>();
        if (_cfg.MaxGradNorm > 0 && norm > _cfg.MaxGradNorm)
        {
            double coef = _cfg.MaxGradNorm / (norm + 1e-6);
            using var _ = no_grad();
            foreach (var g in grads)
                g.Times_(coef);
        }
        return norm;
    }

    /// <summary>Right-padded input [b, L] and shifted labels [b, L]: label j is ids[j+1] when that token is a target, else -100.</summary>
    (Tensor Input, Tensor Labels) Collate(int[] micro)
    {
        int len = micro.Max(i => _data[i].Ids.Length);
        var input = new long[micro.Length * len];
        var labels = Enumerable.Repeat(-100L, micro.Length * len).ToArray();
        for (int r = 0; r < micro.Length; r++)
        {
            var ex = _data[micro[r]];
            for (int j = 0; j < ex.Ids.Length; j++)
            {
                input[r * len + j] = ex.Ids[j];
                if (j + 1 < ex.Ids.Length && ex.Targets[j + 1])
                    labels[r * len + j] = ex.Ids[j + 1];
            }
        }
        return (tensor(input, [micro.Length, len], device: _device), tensor(labels, [micro.Length, len], device: _device));
    }

    // ---- checkpoints ----

    public string CheckpointDir => TrainingCheckpoints.DirOf(_runDir ?? throw new InvalidOperationException("no run folder"));

    /// <summary>The newest complete checkpoint of a run folder, or null.</summary>
    public static string? LatestCheckpoint(string runDir) => TrainingCheckpoints.Latest(runDir);

    void SaveCheckpoint(double elapsed)
    {
        TrainingCheckpoints.Save(CheckpointDir, Step, TotalSteps, _cfg.Seed, elapsed, _cfg.KeepCheckpoints, _trainable, _optimizer, _hooks);
        _savedStep = Step;
    }

    /// <summary>Restores the latest checkpoint of the run folder; returns false when there is none.</summary>
    public bool TryResume()
    {
        if (_runDir is null)
            return false;
        var latest = TrainingCheckpoints.Latest(_runDir);
        if (latest is null)
            return false;
        (Step, _elapsedBefore) = TrainingCheckpoints.Restore(latest, TotalSteps, _trainable, _optimizer, _hooks);
        _savedStep = Step;
        MetricsLog.Truncate(_runDir, Step);
        return true;
    }

    /// <summary>For a run that starts at step 0: what an attempt that saved no checkpoint left (metrics, partial checkpoints) is removed.</summary>
    public void StartFresh()
    {
        if (_runDir is null)
            return;
        if (Step != 0)
            throw new InvalidOperationException("StartFresh after training began");
        File.Delete(Path.Combine(_runDir, MetricsLog.FileName));
        TensorBoardLog.Clear(_runDir);
        if (Directory.Exists(CheckpointDir))
            Directory.Delete(CheckpointDir, true);
    }

    public void Dispose() => _optimizer.Dispose();
}
