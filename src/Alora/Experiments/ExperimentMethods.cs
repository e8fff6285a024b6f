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

    /// <summary>Methods whose domain stage reads the general text itself (general-data).</summary>
    public static bool ReadsGeneralData(string method) => Find(method)?.ReadsGeneralData == true;

    public static bool NeedsGeneralData(string method) => ContinuesGeneral(method) || NeedsFisher(method) || ReadsGeneralData(method);

    /// <summary>The recipe's method of the domain stage.</summary>
    public static FinetuneMethod RecipeMethod(string method) => Get(method).Recipe;

    /// <summary>The method's settings as results.csv shows them (none for base).</summary>
    public static MethodSettings Settings(string method, FinetuneOptions? domain, FinetuneOptions? general) =>
        Find(method) is { } m && domain is not null ? m.Settings(domain, general) : new();
}
