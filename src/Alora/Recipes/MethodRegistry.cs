namespace Alora.Recipes;

/// <summary>
/// Every method Alora trains, in the order experiments list them. Adding a method is one entry here and its own
/// file in MethodSpecs/ (with its value in <see cref="FinetuneMethod"/>); the CLI's help and warnings, the
/// experiment's planner, its results and the README's method table follow from it.
/// </summary>
public static class MethodRegistry
{
    public static IReadOnlyList<MethodSpec> All { get; } =
    [LoraSpecs.Lora, LoraSpecs.Rslora, ReplaySpec.Spec, EwcLoraSpec.Spec, EwcNuSpec.Spec, AloraSpecs.AloraNoLayer, AloraSpecs.Alora];

    public static MethodSpec Get(FinetuneMethod method) =>
        All.FirstOrDefault(s => s.Method == method) ?? throw new AloraException($"method {method} is not registered");

    /// <summary>The experiment methods of every registered method, each knowing its recipe method.</summary>
    public static IReadOnlyList<ExperimentMethod> ExperimentMethods { get; } =
        All.SelectMany(s => s.Experiment.Select(e => e with { Recipe = s.Method })).ToList();

    /// <summary>The methods that read an option key, or none when every method reads it.</summary>
    public static IReadOnlyList<FinetuneMethod> Readers(string key) => All.Where(s => s.Options.Contains(key)).Select(s => s.Method).ToList();

    /// <summary>The README's method table: one row per method, its stages, its own options and its experiment names.</summary>
    public static string MarkdownTable()
    {
        var sb = new System.Text.StringBuilder("| `--method` | stages | its own options | in experiments | what it is |\n|---|---|---|---|---|\n");
        foreach (var s in All)
            sb.Append(
                System.Globalization.CultureInfo.InvariantCulture,
                $"| `{EnumNames<FinetuneMethod>.Name(s.Method)}` | {string.Join(", ", s.Stages.Keys.Select(EnumNames<Stage>.Name))} | {string.Join(", ", s.Options.Select(o => $"`--{o}`"))} | {string.Join(", ", s.Experiment.Select(e => $"`{e.Name}`"))} | {s.Summary} |\n"
            );
        return sb.ToString();
    }
}
