"""The API's token authentication (settings' `DEFAULT_AUTHENTICATION_CLASSES`): its own module
because DRF imports it while `rest_framework.views` is being loaded."""

from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, with the account's hospital, department and county read in the same
    query: every request of a hospital's or department's system needs them (the scoping, the
    declaring hospital), and under a steady stream of declarations each query counts."""

    def authenticate_credentials(self, key):
        try:
            token = (
                self.get_model()
                .objects.select_related(
                    "user", "user__hospital", "user__department", "user__county"
                )
                .get(key=key)
            )
        except self.get_model().DoesNotExist:
            raise AuthenticationFailed("令牌无效") from None
        if not token.user.is_active:
            raise AuthenticationFailed("账户已停用")
        return token.user, token
