using Alora.Eval;

namespace Alora.Experiments;

/// <summary>One Fisher pass of an experiment: the base model's diagonal Fisher of the target weights on general data.</summary>
public sealed record FisherRequest
{
    public required string Model { get; init; }
    public required string Data { get; init; }
    public required int Samples { get; init; }
    public required int MaxLength { get; init; }
    public required long Seed { get; init; }
    public required IReadOnlyList<string> TargetModules { get; init; }
    public string Device { get; init; } = "cpu";
    public string Dtype { get; init; } = "float32";
}

/// <summary>What a Fisher pass reports: its wall time, the file's bytes and what it saw.</summary>
public sealed record FisherOutcome(double Seconds, long Bytes, int Samples, long Tokens, double Mean);

/// <summary>Computes EWC's Fisher into a file; the experiment calls it once per seed (or once) for ewc-lora.</summary>
public interface IFisherStep
{
    FisherOutcome Estimate(FisherRequest request, string outPath, IProgress<EvalProgress>? progress, CancellationToken cancel);
}

/// <summary>The Fisher step of this build.</summary>
public static class FisherStep
{
    public static IFisherStep Default { get; } = new Unavailable();

    sealed class Unavailable : IFisherStep
    {
        public FisherOutcome Estimate(FisherRequest request, string outPath, IProgress<EvalProgress>? progress, CancellationToken cancel) =>
            throw new AloraException("ewc-lora needs the Fisher estimator (alora fisher), which this build does not have yet: leave ewc-lora out of 'methods'");
    }
}
