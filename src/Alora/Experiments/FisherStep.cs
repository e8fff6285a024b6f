using Alora.Eval;
using Alora.Runtime;

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
    public ComputeDtype Dtype { get; init; } = ComputeDtype.Float32;
}

/// <summary>What a Fisher pass reports: its wall time, the file's bytes and what it saw.</summary>
public sealed record FisherOutcome(double Seconds, long Bytes, int Samples, long Tokens, double Mean);

/// <summary>Computes EWC's Fisher into a file; the experiment calls it once per seed (or once) for ewc-lora.</summary>
public interface IFisherStep
{
    FisherOutcome Estimate(FisherRequest request, string outPath, IProgress<EvalProgress>? progress, CancellationToken cancel);
}

/// <summary>The Fisher step of this build: <see cref="Methods.FisherEstimator.EstimateToFile"/> (the pass of `alora fisher`).</summary>
public static class FisherStep
{
    public static IFisherStep Default { get; } = new Estimator();

    sealed class Estimator : IFisherStep
    {
        public FisherOutcome Estimate(FisherRequest request, string outPath, IProgress<EvalProgress>? progress, CancellationToken cancel)
        {
            var o = new Methods.FisherOptions
            {
                Samples = request.Samples,
                MaxLength = request.MaxLength,
                Seed = request.Seed,
                TargetModules = request.TargetModules,
            };
            var r = Methods.FisherEstimator.EstimateToFile(
                request.Model,
                request.Data,
                outPath,
                o,
                TorchRuntime.ParseDevice(request.Device),
                request.Dtype.ToScalarType(),
                progress,
                cancel
            );
            return new FisherOutcome(r.Seconds, r.Bytes, r.Samples, r.Tokens, r.Mean);
        }
    }
}
