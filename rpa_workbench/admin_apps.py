from django.contrib.admin.apps import AdminConfig


class WorkbenchAdminConfig(AdminConfig):
    """django.contrib.admin with the site every role may sign in to (rpa_workbench.admin_site)."""

    default_site = "rpa_workbench.admin_site.WorkbenchAdminSite"
