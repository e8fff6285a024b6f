namespace Alora.Training;

/// <summary>What one optimizer step measured; the same fields, rounded, make its line of metrics.jsonl.</summary>
public sealed record StepMetrics(
    long Step,
    double Epoch,
    double Loss,
    double TaskLoss,
    IReadOnlyDictionary<string, double> Penalties,
    double Lr,
    double GradNorm,
    long TargetTokens,
    long Tokens,
    double TokensPerSecond,
    double ElapsedSeconds
);

/// <summary>Reported after every optimizer step, for progress displays.</summary>
public readonly record struct TrainProgress(long Step, long TotalSteps, double Loss, double TokensPerSecond);
