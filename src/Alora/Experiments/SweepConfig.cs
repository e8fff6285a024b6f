using System.Text.Json.Serialization;
using Alora.Methods;

namespace Alora.Experiments;

/// <summary>Values of alora's phi, xi and rank to sweep (each sweep varies one, the rest as configured).</summary>
public sealed record SweepConfig
{
    public IReadOnlyList<double> Phi { get; init; } = [];
    public IReadOnlyList<double> Xi { get; init; } = [];
    public IReadOnlyList<int> Rank { get; init; } = [];

    /// <summary>Per method, strengths to run besides its configured one (the values of its strength option: phi for alora,
    /// ewc-lambda for ewc-lora...): the points of its trade-off curve.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> Strength { get; init; } = new Dictionary<string, IReadOnlyList<double>>();

    /// <summary>alora's layer weightings to compare on the frontier: each a curve over alora's strengths (the configured
    /// weighting is its main curve).</summary>
    public IReadOnlyList<LayerWeighting> LayerWeights { get; init; } = [];

    /// <summary>The strengths (alora's strength option) at which the layer-weights curves are drawn; empty: each of alora's
    /// own (its configured one and sweeps.strength.alora). Fewer points make the comparison cheaper.</summary>
    public IReadOnlyList<double> LayerWeightStrengths { get; init; } = [];

    /// <summary>Whether alora's own sweeps (phi, xi, rank) list anything.</summary>
    [JsonIgnore]
    public bool Any => Phi.Count + Xi.Count + Rank.Count > 0;
}
