"""The sandbox's well-known credentials: the defaults of every setting, so the quick start needs none.

They open nothing but the local sandbox. A real store and account are configured through the
environment variables named in the README, which override every value here.
"""

SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765
SANDBOX_URL = f"http://{SANDBOX_HOST}:{SANDBOX_PORT}"

# NetSuite: a sandbox account id, in the realm form (upper case, underscore) the Authorization header wants.
NETSUITE_ACCOUNT_ID = "1234567_SB1"
NETSUITE_CONSUMER_KEY = "ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4"
NETSUITE_CONSUMER_SECRET = "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9a8f5"
NETSUITE_TOKEN_ID = "2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc"
NETSUITE_TOKEN_SECRET = "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8fea1478a0f5b45f6"
# OAuth 2.0 client credentials (M2M): the client id of the integration record and the certificate id
# under which its public key is registered. The key pair itself is made on first start (see netsuite/).
NETSUITE_CLIENT_ID = "sandbox-m2m-client-0f3c2a"
NETSUITE_CERTIFICATE_ID = "sandbox-cert-7d1e"

# Shopify
SHOPIFY_SHOP = "sync-assets-sandbox.myshopify.com"
SHOPIFY_API_VERSION = "2026-10"
# A Dev Dashboard app's client id and secret (the quick start's default: the client credentials grant)...
SHOPIFY_CLIENT_ID = "sandbox-app-client-id-3e71d0"
SHOPIFY_CLIENT_SECRET = "sandbox-app-client-secret-9a8b7c"
# ...which, as on Shopify, also signs the app's webhooks.
SHOPIFY_WEBHOOK_SECRET = SHOPIFY_CLIENT_SECRET
# A legacy custom app's permanent token (apps created in the store admin before 2026), still accepted.
SHOPIFY_ACCESS_TOKEN = "shpat_sandbox_5f0e7b1c2d3a4958b6c7d8e9f0a1b2c3"
