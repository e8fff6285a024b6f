using System.Text.Json.Nodes;
using Alora.Recipes;

namespace Alora.Experiments;

/// <summary>
/// The methods an experiment compares (the paper's tables 1 and 2): the untrained base model, then every method of
/// <see cref="MethodRegistry"/> as it registers itself for experiments.
/// </summary>
public static class ExperimentMethods
{
    /// <summary>The untrained model, evaluated once.</summary>
    public const string Base = "base";

    /// <summary>The proposed method: the one sweeps vary and the report's ablation is about.</summary>
    public const string Alora = "alora";

    /// <summary>The key of an eval-only method's overrides that sets beta (overrides: {lora-scaled: {adapter-scale: 0.5}}).</summary>
    public const string AdapterScaleKey = "adapter-scale";

    /// <summary>beta when the overrides do not set it: halfway between the base model and the adapter.</summary>
    public const double DefaultAdapterScale = 0.5;

    /// <summary>The keys an eval-only method's overrides may hold (it trains nothing, so no training option applies).</summary>
    public static readonly string[] EvalOnlyKeys = [AdapterScaleKey];

    public static readonly string[] All = [Base, .. MethodRegistry.ExperimentMethods.Select(m => m.Name)];

    /// <summary>The registration of a trained method, or null for base and unknown names.</summary>
    public static ExperimentMethod? Find(string method) => MethodRegistry.ExperimentMethods.FirstOrDefault(m => m.Name == method);

    static ExperimentMethod Get(string method) =>
        Find(method) ?? throw new AloraException($"'{method}' is not a trained method (expected any of {string.Join(", ", All.Skip(1))})");

    /// <summary>Names as the paper's tables print them.</summary>
    public static string Display(string method) => method == Base ? "Base" : Find(method)?.Display ?? method;

    /// <summary>Methods whose domain stage continues a general-stage adapter.</summary>
    public static bool ContinuesGeneral(string method) => Find(method)?.ContinuesGeneral == true;

    public static bool NeedsFisher(string method) => Find(method)?.NeedsFisher == true;

    /// <summary>Methods whose domain stage reads the general text itself (replay), as --general-data.</summary>
    public static bool ReadsGeneralData(string method) => Find(method)?.ReadsGeneralData == true;

    /// <summary>Whether its training (its own, or for an eval-only method that of the method it scales) reads the general text.</summary>
    public static bool NeedsGeneralData(string method)
    {
        var trained = Trained(method);
        return ContinuesGeneral(trained) || NeedsFisher(trained) || ReadsGeneralData(trained);
    }

    /// <summary>The experiment method whose adapter an eval-only method evaluates (lora-scaled: lora-mu); null for others.</summary>
    public static string? ScalesAdapterOf(string method) => Find(method)?.ScalesAdapterOf;

    public static bool EvalOnly(string method) => Find(method)?.EvalOnly == true;

    /// <summary>Whether a later domain stage can continue the method's adapter (every trained method; not base, not an eval-only one).</summary>
    public static bool Continues(string method) => Find(method) is { EvalOnly: false };

    /// <summary>The method whose domain stage is trained for this one: itself, or the method an eval-only method scales.</summary>
    public static string Trained(string method) => ScalesAdapterOf(method) ?? method;

    /// <summary>Whether the method has a strength to vary (phi, ewc-lambda...).</summary>
    public static bool HasStrength(string method) => Find(method) is { } m && (m.Strength.Count > 0 || m.EvalOnly);

    /// <summary>The option that sets the method's strength in a run with these options: the first of its strength options
    /// the run sets (alora's relative-strength when given, else phi); null for a method without one.</summary>
    public static string? StrengthKey(string method, FinetuneOptions domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var json = domain.ToJson();
        return Find(method)?.Strength.FirstOrDefault(k => json[k] is JsonValue);
    }

    /// <summary>The method's strength in a run of its domain stage: the value of its strength option.</summary>
    public static double? Strength(string method, FinetuneOptions? domain) =>
        domain is not null && StrengthKey(method, domain) is { } key && domain.ToJson()[key] is JsonValue v ? v.GetValue<double>() : null;

    /// <summary>The recipe's method of the domain stage.</summary>
    public static FinetuneMethod RecipeMethod(string method) => Get(method).Recipe;

    /// <summary>The method's settings as results.csv shows them (none for base).</summary>
    public static MethodSettings Settings(string method, FinetuneOptions? domain, FinetuneOptions? general) =>
        Find(method) is { } m && domain is not null ? m.Settings(domain, general) : new();
}
