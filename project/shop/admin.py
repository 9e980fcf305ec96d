from django.contrib import admin

from .models import Order, Payment


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "customer", "total", "paid", "kafka_partition", "kafka_offset", "created_at")
    list_filter = ("paid",)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("reference", "order_number", "amount", "received_at")
