from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("benchapp", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Arrival",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("run", models.CharField(max_length=40)),
                ("partition", models.IntegerField()),
                ("offset", models.BigIntegerField()),
                ("at", models.FloatField()),
            ],
        ),
    ]
