using System.Text.Json.Serialization;

namespace Alora.Training;

/// <summary>The optimizer (option optimizer).</summary>
[JsonConverter(typeof(NamedEnumConverter<OptimizerKind>))]
public enum OptimizerKind
{
    [JsonStringEnumMemberName("adamw")]
    AdamW,
    Sgd,
}

/// <summary>Training-loop settings (the LoRA ones are in <see cref="Lora.LoraConfig"/>).</summary>
public sealed record TrainConfig
{
    public double Lr { get; init; } = 8e-4;
    public int Epochs { get; init; } = 1;

    /// <summary>When set, training stops after this many optimizer steps (and the schedule spans them).</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Sequences per optimizer step (the paper's batch of 20).</summary>
    public int BatchSize { get; init; } = 20;

    /// <summary>Sequences per forward pass; BatchSize / MicroBatchSize passes are accumulated.</summary>
    public int MicroBatchSize { get; init; } = 4;

    /// <summary>
    /// Replay: sequences of each batch drawn from the general data the trainer is given (k; the other
    /// BatchSize - k come from the data). 0 trains on the data alone.
    /// </summary>
    public int ReplayPerStep { get; init; }
    public int MaxLength { get; init; } = 256;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;
    public double WeightDecay { get; init; }
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    public LrSchedule Schedule { get; init; } = LrSchedule.Linear;
    public double WarmupRatio { get; init; }
    public int? WarmupSteps { get; init; }

    /// <summary>Clip the global gradient norm to this value; 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    public long Seed { get; init; } = 42;

    /// <summary>Write a resumable checkpoint every N steps (0: only at the end).</summary>
    public int CheckpointEvery { get; init; } = 50;

    /// <summary>Checkpoints kept on disk (older ones are removed).</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Also write each step's metrics as TensorBoard scalars into RUN/tensorboard (<see cref="TensorBoardLog"/>).</summary>
    public bool TensorBoard { get; init; }

    public void Validate()
    {
        foreach (
            var (name, v) in new[]
            {
                ("--lr", Lr),
                ("--weight-decay", WeightDecay),
                ("--max-grad-norm", MaxGradNorm),
                ("--warmup-ratio", WarmupRatio),
                ("beta1", Beta1),
                ("beta2", Beta2),
                ("eps", Eps),
            }
        )
            if (!double.IsFinite(v))
                throw new AloraException($"{name} must be a finite number (got {v})");
        if (Lr <= 0)
            throw new AloraException($"--lr must be positive (got {Lr})");
        if (WeightDecay < 0)
            throw new AloraException($"--weight-decay must be non-negative (got {WeightDecay})");
        if (BatchSize < 1)
            throw new AloraException($"--batch-size must be at least 1 (got {BatchSize})");
        if (ReplayPerStep < 0 || ReplayPerStep >= BatchSize)
            throw new AloraException(
                $"replay of {ReplayPerStep} general sequence(s) per step must be in [0, {BatchSize - 1}] for --batch-size {BatchSize}, so every step has domain sequences"
            );
        if (MicroBatchSize < 1)
            throw new AloraException($"--micro-batch-size must be at least 1 (got {MicroBatchSize})");
        if (Epochs < 1 && MaxSteps is null)
            throw new AloraException($"--epochs must be at least 1 (got {Epochs})");
        if (MaxSteps is < 1)
            throw new AloraException($"--max-steps must be at least 1 (got {MaxSteps})");
        if (MaxLength < 2)
            throw new AloraException($"--max-length must be at least 2 (got {MaxLength})");
        if (MaxGradNorm < 0)
            throw new AloraException($"--max-grad-norm must be non-negative (got {MaxGradNorm})");
        if (WarmupRatio is < 0 or >= 1)
            throw new AloraException($"--warmup-ratio must be in [0, 1) (got {WarmupRatio})");
    }
}
