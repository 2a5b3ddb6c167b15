using System.Security.Cryptography;
using System.Text;

namespace Chat.Tests.Gateway;

/// <summary>The same gateway with API keys, a per-caller rate limit and one allowed CORS origin configured.</summary>
public sealed class SecuredGatewayFixture : GatewayFixture
{
    public const string AliceKey = "alice-secret-key";
    public const string BobKey = "bob-secret-key";
    public const string CarolKey = "carol-secret-key";
    public const string DaveKey = "dave-secret-key";
    public const int RateLimit = 20;
    public const string AllowedOrigin = "https://chat.example";

    protected override void AddSettings(IDictionary<string, string> settings)
    {
        // Alice's key is stored as its hash, the way production configuration should hold it; the others in clear,
        // as a secret store would inject them.
        settings["Gateway:ApiKeys:alice:Sha256"] = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(AliceKey)));
        settings["Gateway:ApiKeys:bob:Key"] = BobKey;
        settings["Gateway:ApiKeys:carol:Key"] = CarolKey;
        settings["Gateway:ApiKeys:dave:Key"] = DaveKey;
        settings["Gateway:RateLimit:TokenLimit"] = RateLimit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Gateway:RateLimit:TokensPerPeriod"] = "1";
        settings["Gateway:RateLimit:ReplenishmentPeriod"] = "00:10:00";
        settings["Gateway:Cors:AllowedOrigins:0"] = AllowedOrigin;
    }
}

[CollectionDefinition(Name)]
public sealed class SecuredGatewayCollection : ICollectionFixture<SecuredGatewayFixture>
{
    public const string Name = "SecuredGateway";
}
