namespace Alora.Experiments;

/// <summary>One row of results.csv: a method at a seed on a domain task (sweep rows name the swept key and value).</summary>
public sealed record ResultRow
{
    public required string Method { get; init; }
    public string? Sweep { get; init; }
    public double? SweepValue { get; init; }
    public required long Seed { get; init; }
    public required string Task { get; init; }
    public double GeneralPpl { get; init; } = double.NaN;
    public double Acc { get; init; } = double.NaN;
    public double AccNorm { get; init; } = double.NaN;

    /// <summary>Domain-stage training time of this run (0 for base).</summary>
    public double? TrainSeconds { get; init; }

    /// <summary>The whole general stage this run continues (shared with the other methods of its seed).</summary>
    public double? GeneralStageSeconds { get; init; }

    /// <summary>Of which the SI recording (the importance estimate's overhead).</summary>
    public double? SiRecordSeconds { get; init; }
    public double? FisherSeconds { get; init; }
    public long? OmegaBytes { get; init; }
    public long? FisherBytes { get; init; }

    /// <summary>Peak host memory (resident) of the domain-stage training.</summary>
    public long? PeakMemoryBytes { get; init; }
    public double? Phi { get; init; }
    public double? Xi { get; init; }
    public int? Rank { get; init; }
    public string? LayerWeights { get; init; }
    public double? EwcLambda { get; init; }

    /// <summary>Replay's rho: the share of each batch replayed from the general text.</summary>
    public double? ReplayFraction { get; init; }

    /// <summary>beta of an eval-only method's W0 + beta D (lora-scaled); null for the others.</summary>
    public double? AdapterScale { get; init; }

    /// <summary>The value of the method's strength option (its phi, ewc-lambda...): the x of its trade-off curve.</summary>
    public double? Strength { get; init; }
    public double? FinalTaskLoss { get; init; }
    public double? FinalPenalty { get; init; }
    public required string Run { get; init; }

    /// <summary>Probe name -> (acc, acc_norm).</summary>
    public IReadOnlyDictionary<string, (double Acc, double AccNorm)> Probes { get; init; } = new Dictionary<string, (double, double)>();
}
