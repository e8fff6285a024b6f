using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Alora.Recipes;

/// <summary>One option of a run: its key (the CLI's --key, the YAML key), type, help, default, and the names of its values when it has a fixed set.</summary>
public sealed record OptionInfo(string Key, PropertyInfo Property, string Description, JsonNode? Default, IReadOnlyList<string>? Values)
{
    public Type Type => Property.PropertyType;

    /// <summary>Whether YAML should keep its value as text ("data: 2024" names a file, "method: alora" a method).</summary>
    public bool IsText => Type == typeof(string) || Values is not null;
}

/// <summary>
/// The options of <see cref="FinetuneOptions"/> as data, and the one binder from a JSON tree (the command line's, a
/// YAML file's, an experiment section's) to the typed record: unknown keys, wrong types and unknown names are errors
/// naming the source and the key.
/// </summary>
public static class OptionCatalog
{
    /// <summary>How options are written and read: kebab-case keys, named enum values.</summary>
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.KebabCaseLower, WriteIndented = true };

    public static string Key(PropertyInfo p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return JsonNamingPolicy.KebabCaseLower.ConvertName(p.Name);
    }

    public static IReadOnlyList<OptionInfo> Options { get; } = Build();

    static List<OptionInfo> Build()
    {
        var defaults = new FinetuneOptions().ToJson();
        return typeof(FinetuneOptions)
            .GetProperties()
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => new OptionInfo(
                Key(p),
                p,
                p.GetCustomAttribute<DescriptionAttribute>()?.Description
                    ?? throw new InvalidOperationException($"FinetuneOptions.{p.Name} has no [Description]"),
                defaults[Key(p)]?.DeepClone(),
                ValueNames(p.PropertyType)
            ))
            .ToList();
    }

    static IReadOnlyList<string>? ValueNames(Type t)
    {
        var e = Nullable.GetUnderlyingType(t) ?? t;
        if (!e.IsEnum)
            return null;
        return (IReadOnlyList<string>)typeof(EnumNames<>).MakeGenericType(e).GetProperty("Names")!.GetValue(null)!;
    }

    public static OptionInfo? Find(string key) => Options.FirstOrDefault(o => o.Key == key);

    /// <summary>Every option at its default, as JSON: the tree the sources are merged into before binding.</summary>
    public static JsonObject Defaults() => new FinetuneOptions().ToJson();

    /// <summary>Binds a merged tree of options; <paramref name="source"/> names where its values came from in errors.</summary>
    public static FinetuneOptions Bind(JsonObject tree, string source)
    {
        ArgumentNullException.ThrowIfNull(tree);
        foreach (var (k, _) in tree)
            if (Find(k) is null)
                throw new AloraException($"{source}: unknown option '{k}' (known: {string.Join(", ", Options.Select(o => o.Key))})");
        try
        {
            return tree.Deserialize<FinetuneOptions>(Json) ?? throw new AloraException($"{source}: no options");
        }
        catch (JsonException e)
        {
            var key = (e.Path ?? "").TrimStart('$', '.').Replace("['", "", StringComparison.Ordinal).Replace("']", "", StringComparison.Ordinal);
            var info = Find(key);
            var why = info?.Values is { } names
                ? $": '{tree[key]}' is not one of {string.Join(", ", names)}"
                : $" has the wrong type (expected {TypeName(info?.Type)})";
            throw new AloraException($"{source}: '{key}'{why}", e);
        }
    }

    static string TypeName(Type? t)
    {
        var u = t is null ? null : Nullable.GetUnderlyingType(t) ?? t;
        return u == typeof(int) || u == typeof(long) ? "a whole number"
            : u == typeof(double) ? "a number"
            : u == typeof(bool) ? "true or false"
            : u == typeof(string) ? "text"
            : u == typeof(IReadOnlyList<string>) ? "a list of names"
            : "a value";
    }

    /// <summary>The help line of an option: its description, the names of its values, its default.</summary>
    public static string Help(OptionInfo o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var sb = new StringBuilder(o.Description);
        if (o.Values is { } v)
            sb.Append(": ").AppendJoin(" | ", v);
        var readers = MethodRegistry.Readers(o.Key);
        if (readers.Count > 0)
            sb.Append(" [").AppendJoin(", ", readers.Select(EnumNames<FinetuneMethod>.Name)).Append(']');
        return sb.ToString();
    }

    /// <summary>The README's option table of <c>alora train</c>: one row per option.</summary>
    public static string MarkdownTable()
    {
        var sb = new StringBuilder();
        sb.Append("| option | default | what it sets |\n|---|---|---|\n");
        foreach (var o in Options)
        {
            var d = o.Default switch
            {
                null => "",
                JsonArray a => string.Join(",", a.Select(x => x?.ToString())),
                JsonValue x when x.TryGetValue<bool>(out var b) => b ? "true" : "false",
                var x => x.ToString(),
            };
            sb.Append(
                CultureInfo.InvariantCulture,
                $"| `--{o.Key}` | {(d.Length == 0 ? "" : $"`{d}`")} | {Help(o).Replace("|", "\\|", StringComparison.Ordinal)} |\n"
            );
        }
        return sb.ToString();
    }
}
