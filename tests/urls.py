from django.contrib import admin
from django.urls import path

from project.shop.views import place_order
from tests.testapp.views import produce

urlpatterns = [path("admin/", admin.site.urls), path("orders/", place_order), path("produce/<str:topic>/", produce)]
