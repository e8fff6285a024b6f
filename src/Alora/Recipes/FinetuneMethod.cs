using System.Text.Json.Serialization;

namespace Alora.Recipes;

/// <summary>The recipe's methods (option method); each is registered in <see cref="MethodRegistry"/>.</summary>
[JsonConverter(typeof(NamedEnumConverter<FinetuneMethod>))]
public enum FinetuneMethod
{
    Lora,
    Rslora,
    Alora,
    AloraNoLayer,
    EwcLora,
    Replay,
    EwcNu,
}

/// <summary>Which stage a run trains (option stage): nu on general text, mu on the domain, or both in turn.</summary>
[JsonConverter(typeof(NamedEnumConverter<Stage>))]
public enum Stage
{
    General,
    Domain,
    Both,
}
