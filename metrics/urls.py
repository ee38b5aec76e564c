app_name = "metrics"

urlpatterns: list = []  # the Releases page moved to releases (releases:release_list)
